//! Presigned S3 links signed with `aws-sigv4` directly.
//!
//! The SDK's `.presigned(..)` runs its whole request pipeline for every link (runtime
//! plugins, interceptors, the S3 endpoint-rules resolver, identity resolution, SigV4),
//! about 110 µs per link, most of it per-request work whose answer never changes: a
//! bucket's URL depends only on the bucket, the region and the client's settings, not
//! on the key. So the endpoint is resolved once per (bucket, region) with the SDK's own
//! resolver and kept; a link is then the request the SDK would have serialised
//! (same path and query encoding, same headers) signed with the same SigV4 settings
//! the SDK uses for S3 presigning. The equivalence tests at the bottom compare the
//! result with `.presigned(..)` byte for byte, so an SDK change that alters what it
//! signs shows up as a failing test, not as links S3 refuses.
//!
//! Endpoints whose rules ask for anything but plain SigV4 (S3 Express directory
//! buckets, multi-region access points with SigV4a) or set endpoint headers are left to
//! the SDK: [`Presigner::endpoint`] answers [`Route::Sdk`] for them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::Document;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// The longest a SigV4 presigned URL may last (S3 refuses longer `X-Amz-Expires`; the
/// SDK's `PresigningConfig` refuses to build one).
pub(crate) const MAX_EXPIRES_IN: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Credentials without an expiry (environment, static) are re-read this often, as the
/// SDK's identity cache does, so that a rotated profile or container credential is
/// picked up eventually.
const NO_EXPIRY_REFRESH: Duration = Duration::from_secs(15 * 60);
/// Expiring credentials are replaced this long before they expire: a link signed with
/// them stops working when they do, so a link signed just before would barely live.
const EXPIRY_BUFFER: Duration = Duration::from_secs(5 * 60);

/// Characters the SDK percent-encodes in labels and query values (smithy's
/// `aws_smithy_http::urlencode::BASE_SET`; every non-ASCII byte is encoded as well).
/// The URL must be encoded exactly as the SDK would, or S3 computes another canonical
/// request than the one signed.
const BASE_SET: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'/')
    .add(b':')
    .add(b',')
    .add(b'?')
    .add(b'#')
    .add(b'[')
    .add(b']')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'@')
    .add(b'!')
    .add(b'$')
    .add(b'&')
    .add(b'\'')
    .add(b'(')
    .add(b')')
    .add(b'*')
    .add(b'+')
    .add(b';')
    .add(b'=')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'"')
    .add(b'^')
    .add(b'`')
    .add(b'\\');
/// The object key is a greedy label (`/{Key+}`): slashes stay.
const KEY_SET: &AsciiSet = &BASE_SET.remove(b'/');

#[derive(Debug, thiserror::Error)]
pub(crate) enum PresignError {
    #[error("no region to sign for: neither the blob location nor the SDK config has one")]
    NoRegion,
    #[error("resolving the S3 endpoint of bucket {bucket} in {region}: {message}")]
    Endpoint {
        bucket: String,
        region: String,
        message: String,
    },
    #[error("no credentials provider in the SDK config")]
    NoCredentialsProvider,
    // The provider's error names the source that failed, never the secret.
    #[error("loading credentials: {0}")]
    Credentials(String),
    #[error("a link may last at most {max:?}, {asked:?} was asked", max = MAX_EXPIRES_IN)]
    ExpiresTooLong { asked: Duration },
    #[error("signing: {0}")]
    Signing(String),
}

/// Where a bucket's links are signed.
#[derive(Debug)]
pub(crate) enum Route {
    /// Here, with aws-sigv4, against a resolved endpoint.
    Direct(Arc<Endpoint>),
    /// By the SDK's pipeline: the endpoint rules ask for something other than SigV4.
    Sdk,
}

/// A bucket's resolved URL and the signing scope its endpoint rules name.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// `scheme://authority[/path]` without a trailing slash; the request path
    /// (`/<key>`) follows it as the SDK's `set_endpoint` merges them.
    base: String,
    signing_region: String,
    signing_name: String,
    /// S3's rules set `disableDoubleEncoding`: the path is signed as sent.
    double_encode: bool,
}

/// An S3 request to presign: what the SDK's serializer would have produced.
pub(crate) struct Request<'a> {
    pub method: &'static str,
    pub key: &'a str,
    /// The operation's query (`x-id=…`, then its members in the SDK's order), unencoded.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to bind, lower-case names.
    pub headers: &'a [(&'static str, &'a str)],
    pub expires_in: Duration,
}

/// A signed request: method, URL and the headers the client must send.
#[derive(Debug)]
pub(crate) struct Presigned {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
}

struct CachedIdentity {
    identity: Identity,
    refresh_at: SystemTime,
}

/// Signs S3 links for one SDK configuration; endpoints and credentials are cached.
pub(crate) struct Presigner {
    credentials: Option<SharedCredentialsProvider>,
    identity: Mutex<Option<CachedIdentity>>,
    default_region: Option<String>,
    endpoint_url: Option<String>,
    force_path_style: bool,
    use_fips: Option<bool>,
    use_dual_stack: Option<bool>,
    /// region → bucket → route. Content lives in a handful of buckets (one per region
    /// the table replicates to), so this stays small.
    routes: RwLock<HashMap<String, HashMap<String, Arc<Route>>>>,
}

impl std::fmt::Debug for Presigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials are never printed.
        f.debug_struct("Presigner")
            .field("default_region", &self.default_region)
            .field("endpoint_url", &self.endpoint_url)
            .field("force_path_style", &self.force_path_style)
            .finish_non_exhaustive()
    }
}

/// The S3 endpoint URL override as `aws_sdk_s3::config::Builder::from(&SdkConfig)` picks
/// it: an `endpoint_url` set on the config itself wins; otherwise, for a config the
/// loader made from the environment, the S3-specific `AWS_ENDPOINT_URL_S3`, then the
/// general endpoint URL. (The SDK would also read a profile's `services` section for S3;
/// that lookup is private to the SDK, and the crate's `custom_endpoint` does not see
/// such an endpoint either.)
fn s3_endpoint_url(config: &SdkConfig) -> Option<String> {
    if config.get_origin("endpoint_url").is_client_config() {
        return config.endpoint_url().map(str::to_owned);
    }
    config
        .service_config()
        .and_then(|_| std::env::var("AWS_ENDPOINT_URL_S3").ok())
        .filter(|url| !url.trim().is_empty())
        .or_else(|| config.endpoint_url().map(str::to_owned))
}

fn text<'a>(object: &'a HashMap<String, Document>, name: &str) -> Option<&'a str> {
    match object.get(name) {
        Some(Document::String(value)) => Some(value),
        _ => None,
    }
}

impl Presigner {
    pub(crate) fn new(config: &SdkConfig, force_path_style: bool) -> Self {
        Self {
            credentials: config.credentials_provider(),
            identity: Mutex::new(None),
            default_region: config.region().map(|r| r.as_ref().to_owned()),
            endpoint_url: s3_endpoint_url(config),
            force_path_style,
            use_fips: config.use_fips(),
            use_dual_stack: config.use_dual_stack(),
            routes: RwLock::new(HashMap::new()),
        }
    }

    /// The route for a bucket, resolved on first use and cached.
    pub(crate) async fn route(
        &self,
        bucket: &str,
        region: Option<&str>,
    ) -> Result<Arc<Route>, PresignError> {
        let region = region
            .or(self.default_region.as_deref())
            .ok_or(PresignError::NoRegion)?;
        {
            let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
            if let Some(route) = routes.get(region).and_then(|buckets| buckets.get(bucket)) {
                return Ok(route.clone());
            }
        }
        let route = Arc::new(self.resolve(bucket, region).await?);
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        Ok(routes
            .entry(region.to_owned())
            .or_default()
            .entry(bucket.to_owned())
            .or_insert(route)
            .clone())
    }

    /// Runs the SDK's S3 endpoint rules with the parameters its operations pass (the
    /// key is one of them, but no rule reads it, which is what makes caching per bucket
    /// sound).
    async fn resolve(&self, bucket: &str, region: &str) -> Result<Route, PresignError> {
        let failed = |message: String| PresignError::Endpoint {
            bucket: bucket.to_owned(),
            region: region.to_owned(),
            message,
        };
        let params = Params::builder()
            .bucket(bucket)
            .region(region)
            .set_use_fips(self.use_fips)
            .set_use_dual_stack(self.use_dual_stack)
            .set_endpoint(self.endpoint_url.clone())
            .force_path_style(self.force_path_style)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let endpoint = DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if endpoint.headers().next().is_some() {
            return Ok(Route::Sdk);
        }
        // The first auth scheme the rules list is the one the SDK uses for S3.
        let scheme = match endpoint.properties().get("authSchemes") {
            Some(Document::Array(schemes)) => match schemes.first() {
                Some(Document::Object(scheme)) => Some(scheme),
                _ => None,
            },
            _ => None,
        };
        let (signing_region, signing_name, double_encode) = match scheme {
            None => (region.to_owned(), "s3".to_owned(), false),
            Some(scheme) if text(scheme, "name") == Some("sigv4") => (
                text(scheme, "signingRegion").unwrap_or(region).to_owned(),
                text(scheme, "signingName").unwrap_or("s3").to_owned(),
                !matches!(
                    scheme.get("disableDoubleEncoding"),
                    Some(Document::Bool(true))
                ),
            ),
            Some(_) => return Ok(Route::Sdk),
        };
        let url: http::Uri = endpoint
            .url()
            .parse()
            .map_err(|e| failed(format!("endpoint {} is not a URL: {e}", endpoint.url())))?;
        let (Some(scheme), Some(authority)) = (url.scheme_str(), url.authority()) else {
            return Err(failed(format!(
                "endpoint {} has no scheme or host",
                endpoint.url()
            )));
        };
        // As the SDK's `Uri::set_endpoint`: the endpoint's path (path-style: the
        // bucket) without one trailing slash, then the request's path.
        let path = url.path();
        let path = path.strip_suffix('/').unwrap_or(path);
        Ok(Route::Direct(Arc::new(Endpoint {
            base: format!("{scheme}://{authority}{path}"),
            signing_region,
            signing_name,
            double_encode,
        })))
    }

    /// The signing identity, from the cache while it is fresh.
    pub(crate) async fn identity(&self, now: SystemTime) -> Result<Identity, PresignError> {
        {
            let cached = self.identity.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(cached) = cached.as_ref()
                && now < cached.refresh_at
            {
                return Ok(cached.identity.clone());
            }
        }
        let provider = self
            .credentials
            .as_ref()
            .ok_or(PresignError::NoCredentialsProvider)?;
        // Not under the lock: the provider may do I/O. Two callers missing at once both
        // load, and the later one's answer stays; either is valid.
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| PresignError::Credentials(e.to_string()))?;
        let refresh_at = match credentials.expiry() {
            None => now + NO_EXPIRY_REFRESH,
            Some(expiry) => expiry.checked_sub(EXPIRY_BUFFER).unwrap_or(expiry),
        };
        let identity = Identity::from(credentials);
        *self.identity.lock().unwrap_or_else(|p| p.into_inner()) = Some(CachedIdentity {
            identity: identity.clone(),
            refresh_at,
        });
        Ok(identity)
    }

    /// Signs `request` for `endpoint` at `time`, with the settings the SDK's SigV4
    /// signer derives for S3 presigning: query-string signature, `UNSIGNED-PAYLOAD`,
    /// no path normalisation, single encoding (the rules' `disableDoubleEncoding`), the
    /// session token signed as `X-Amz-Security-Token`.
    pub(crate) fn sign(
        endpoint: &Endpoint,
        identity: &Identity,
        request: &Request<'_>,
        time: SystemTime,
    ) -> Result<Presigned, PresignError> {
        if request.expires_in > MAX_EXPIRES_IN {
            return Err(PresignError::ExpiresTooLong {
                asked: request.expires_in,
            });
        }
        let mut url = String::with_capacity(endpoint.base.len() + request.key.len() + 512);
        url.push_str(&endpoint.base);
        url.push('/');
        url.extend(utf8_percent_encode(request.key, KEY_SET));
        let mut separator = '?';
        for (name, value) in request.query {
            url.push(separator);
            url.extend(utf8_percent_encode(name, BASE_SET));
            url.push('=');
            url.extend(utf8_percent_encode(value, BASE_SET));
            separator = '&';
        }

        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = if endpoint.double_encode {
            PercentEncodingMode::Double
        } else {
            PercentEncodingMode::Single
        };
        // S3's signer asks for x-amz-content-sha256; with the signature in the query it
        // adds no header, but the setting is kept identical to the SDK's.
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.session_token_mode = SessionTokenMode::Include;
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(request.expires_in);
        let params = SigningParams::builder()
            .identity(identity)
            .region(&endpoint.signing_region)
            .name(&endpoint.signing_name)
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| PresignError::Signing(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            request.method,
            Cow::Borrowed(url.as_str()),
            request.headers.iter().copied(),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| PresignError::Signing(e.to_string()))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| PresignError::Signing(e.to_string()))?
            .into_parts();

        // As the SDK applies them: each parameter appended, encoded like the others.
        let (extra_headers, signing_params) = instructions.into_parts();
        for (name, value) in signing_params {
            url.push(separator);
            url.extend(utf8_percent_encode(name, BASE_SET));
            url.push('=');
            url.extend(utf8_percent_encode(&value, BASE_SET));
            separator = '&';
        }
        let mut headers: Vec<(&'static str, String)> = request
            .headers
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned()))
            .collect();
        // Query signing adds no headers today; should it, the client must send them.
        headers.extend(
            extra_headers
                .iter()
                .map(|header| (header.name(), header.value().to_owned())),
        );
        Ok(Presigned {
            method: request.method,
            url,
            headers,
        })
    }
}

#[cfg(test)]
mod tests;
