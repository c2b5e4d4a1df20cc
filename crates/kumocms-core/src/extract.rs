//! Metadata extraction from content bytes, fed in chunks so that memory stays bounded
//! whatever the size: size and SHA-256 of everything, the media type and image
//! dimensions from the first bytes, and the page count of a PDF from a rolling scan.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::document::Extracted;
use crate::ports::VerifiedContent;
use crate::validate::DEFAULT_CONTENT_TYPE;

/// How many leading bytes are kept for sniffing and image headers. JPEG dimensions
/// sit after EXIF data, which can be tens of kilobytes.
const HEAD_BYTES: usize = 256 * 1024;
const PDF_MAGIC: &[u8] = b"%PDF-";
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

pub struct Extractor {
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
    pages: PdfPageCounter,
    /// The first bytes text is taken from (`text::MAX_TEXT_INPUT`).
    text_input: Vec<u8>,
    /// Size and SHA-256 the store already verified: then nothing is hashed here.
    verified: Option<VerifiedContent>,
}

impl Default for Extractor {
    fn default() -> Self {
        Self::new()
    }
}

impl Extractor {
    pub fn new() -> Self {
        Self {
            hasher: Sha256::new(),
            size: 0,
            head: Vec::new(),
            pages: PdfPageCounter::default(),
            text_input: Vec::new(),
            verified: None,
        }
    }

    /// For content whose size and SHA-256 the store already verified: the bytes fed
    /// are not hashed, and [`wants_more`](Self::wants_more) says when they suffice.
    pub fn with_verified(verified: VerifiedContent) -> Self {
        Self {
            verified: Some(verified),
            ..Self::new()
        }
    }

    /// Whether more bytes would change the result. Always, unless the content was
    /// verified by the store: then only the first bytes that sniffing and text
    /// extraction use are needed, and all of a PDF (its pages are counted).
    pub fn wants_more(&self) -> bool {
        if self.verified.is_none()
            || self.head.len() < HEAD_BYTES
            || self.head.starts_with(PDF_MAGIC)
        {
            return true;
        }
        let cap = if self.text_input.starts_with(ZIP_MAGIC) {
            crate::ooxml::MAX_OOXML_INPUT
        } else {
            crate::text::MAX_TEXT_INPUT
        };
        self.text_input.len() < cap
    }

    /// How many bytes were fed so far.
    pub fn bytes_read(&self) -> u64 {
        self.size
    }

    pub fn update(&mut self, chunk: &[u8]) {
        if self.verified.is_none() {
            self.hasher.update(chunk);
        }
        self.size += chunk.len() as u64;
        // A zip (OOXML) is read whole, up to its own bound; anything else from its
        // first MiB.
        let is_zip = self.text_input.starts_with(ZIP_MAGIC)
            || (self.text_input.is_empty() && chunk.starts_with(ZIP_MAGIC));
        let is_pdf = self.text_input.starts_with(PDF_MAGIC)
            || (self.text_input.is_empty() && chunk.starts_with(PDF_MAGIC));
        let cap = if is_pdf {
            crate::pdf::MAX_PDF_INPUT
        } else if is_zip {
            crate::ooxml::MAX_OOXML_INPUT
        } else {
            crate::text::MAX_TEXT_INPUT
        };
        if self.text_input.len() < cap {
            let take = chunk.len().min(cap - self.text_input.len());
            self.text_input.extend_from_slice(&chunk[..take]);
        }
        if self.head.len() < HEAD_BYTES {
            let take = chunk.len().min(HEAD_BYTES - self.head.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        // Only a PDF has pages to count: skip the scan once the first bytes say
        // otherwise (it was a sixth of an upload's CPU for other content).
        if self.head.len() < PDF_MAGIC.len() || self.head.starts_with(PDF_MAGIC) {
            self.pages.update(chunk);
        }
    }

    /// Finishes extraction; `declared` is the content type the client gave.
    pub fn finish(self, declared: &str, now: DateTime<Utc>) -> Extracted {
        let (size, sha256) = match &self.verified {
            Some(verified) => (verified.size, verified.sha256.clone()),
            None => (self.size, hex::encode(self.hasher.clone().finalize())),
        };
        let sniffed = infer::get(&self.head).map(|kind| kind.mime_type().to_owned());
        let declared_essence = declared
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let content_type_mismatch = match &sniffed {
            Some(sniffed) => {
                declared_essence != DEFAULT_CONTENT_TYPE && !same_type(sniffed, &declared_essence)
            }
            None => false,
        };
        // Text for search, from the declared type (a sniffed binary type wins: a
        // PNG declared text/plain has no text).
        let truncated = size > self.text_input.len() as u64;
        let binary = sniffed.as_deref().is_some_and(|s| {
            !(s.starts_with("text/") || s.ends_with("xml") || s.ends_with("json"))
        });
        let ooxml = crate::ooxml::is_ooxml(&declared_essence)
            || sniffed.as_deref().is_some_and(crate::ooxml::is_ooxml);
        let mut pdf_info = crate::pdf::PdfText::default();
        let outcome = if sniffed.as_deref() == Some("application/pdf") {
            if truncated {
                crate::text::TextOutcome::Failed(format!(
                    "larger than {} bytes; its text is not read",
                    crate::pdf::MAX_PDF_INPUT
                ))
            } else {
                pdf_info = crate::pdf::read(&self.text_input);
                let text = std::mem::take(&mut pdf_info.text);
                match pdf_info.error.take() {
                    None => crate::text::TextOutcome::Text(text),
                    Some(why) if text.trim().is_empty() => crate::text::TextOutcome::Failed(why),
                    Some(why) => crate::text::TextOutcome::Partial(text, why),
                }
            }
        } else if ooxml {
            if truncated {
                crate::text::TextOutcome::Failed(format!(
                    "larger than {} bytes; its text is not read",
                    crate::ooxml::MAX_OOXML_INPUT
                ))
            } else {
                match crate::ooxml::text(&self.text_input) {
                    (text, None) => crate::text::TextOutcome::Text(text),
                    (text, Some(why)) if text.trim().is_empty() => {
                        crate::text::TextOutcome::Failed(why)
                    }
                    (text, Some(why)) => crate::text::TextOutcome::Partial(text, why),
                }
            }
        } else if binary {
            crate::text::TextOutcome::NotText
        } else {
            crate::text::extract(&declared_essence, &self.text_input, truncated)
        };
        let (full_text, text_error) = match outcome {
            crate::text::TextOutcome::NotText => (None, None),
            crate::text::TextOutcome::Text(text) => (Some(text), None),
            crate::text::TextOutcome::Failed(why) => (None, Some(why)),
            crate::text::TextOutcome::Partial(text, why) => (Some(text), Some(why)),
        };
        let full_text = full_text
            .map(|t| crate::text::truncate(t, crate::search::MAX_INDEXED_TEXT))
            .filter(|t| !t.trim().is_empty() || text_error.is_some());
        // The record keeps the first 32 KiB; the whole text (up to 1 MiB) goes to
        // a store's own index with this write only when it is longer.
        let (text, index_text) = match full_text {
            Some(full) if full.len() > crate::search::MAX_RECORD_TEXT => (
                Some(crate::text::truncate(
                    full.clone(),
                    crate::search::MAX_RECORD_TEXT,
                )),
                Some(full),
            ),
            other => (other, None),
        };
        let is_pdf = sniffed.as_deref() == Some("application/pdf");
        let (width, height) = match imagesize::blob_size(&self.head) {
            Ok(size) if sniffed.as_deref().is_some_and(|s| s.starts_with("image/")) => (
                u32::try_from(size.width).ok(),
                u32::try_from(size.height).ok(),
            ),
            _ => (None, None),
        };
        Extracted {
            size,
            sha256,
            sniffed_content_type: sniffed,
            content_type_mismatch,
            page_count: is_pdf.then(|| self.pages.finish()),
            width,
            height,
            extracted_at: now,
            sidecar_applied: false,
            text,
            index_text,
            text_error,
            title: pdf_info.title,
            author: pdf_info.author,
            created: pdf_info.created,
        }
    }
}

fn same_type(sniffed: &str, declared: &str) -> bool {
    // Aliases that clients commonly send for the same format.
    const ALIASES: &[(&str, &str)] = &[
        ("image/jpeg", "image/jpg"),
        ("application/zip", "application/x-zip-compressed"),
        ("application/gzip", "application/x-gzip"),
    ];
    sniffed == declared
        || ALIASES
            .iter()
            .any(|&(a, b)| (sniffed == a && declared == b) || (sniffed == b && declared == a))
}

/// Counts `/Type /Page` objects (not `/Pages`) across chunk boundaries.
#[derive(Default)]
struct PdfPageCounter {
    tail: Vec<u8>,
    count: u32,
}

const PAGE_TAIL: usize = 32;

impl PdfPageCounter {
    fn update(&mut self, chunk: &[u8]) {
        let mut window = std::mem::take(&mut self.tail);
        let carried = window.len();
        window.extend_from_slice(chunk);
        // A match is counted when its terminating byte lies in the new chunk, so a
        // match seen in the carried tail is never counted twice.
        let mut i = 0;
        while let Some(pos) = find(&window[i..], b"/Type") {
            let start = i + pos;
            if let Some(end) = page_match_end(&window, start)
                && end >= carried
                && end < window.len()
            {
                self.count += 1;
            }
            i = start + 1;
        }
        let keep = window.len().min(PAGE_TAIL);
        self.tail = window[window.len() - keep..].to_vec();
    }

    fn finish(mut self) -> u32 {
        // A match right at the end of the file has no terminating byte yet.
        self.update(b"\n");
        self.count
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// If `/Type <ws>* /Page <delimiter>` starts at `start`, the index of the delimiter.
fn page_match_end(window: &[u8], start: usize) -> Option<usize> {
    let mut i = start + b"/Type".len();
    while i < window.len() && window[i].is_ascii_whitespace() {
        i += 1;
    }
    if window.get(i..i + 5)? != b"/Page" {
        return None;
    }
    let end = i + 5;
    let delimiter = *window.get(end)?;
    (!delimiter.is_ascii_alphanumeric()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(bytes: &[u8], declared: &str, chunk: usize) -> Extracted {
        let mut extractor = Extractor::new();
        for piece in bytes.chunks(chunk.max(1)) {
            extractor.update(piece);
        }
        extractor.finish(declared, Utc::now())
    }

    #[test]
    fn a_pdf_gives_its_text_and_info_and_a_pdf_bomb_a_text_error() {
        let extracted = extract(
            &crate::pdf::tests::pdf("Invoice for ACME", false),
            "application/pdf",
            4096,
        );
        assert!(extracted.text.expect("text").contains("Invoice for ACME"));
        assert_eq!(extracted.title.as_deref(), Some("Quarterly Report"));
        assert_eq!(extracted.author.as_deref(), Some("Jane Roe"));
        assert_eq!(extracted.created.as_deref(), Some("2024-01-31T11:00:00Z"));
        assert_eq!(extracted.page_count, Some(1));
        let extracted = extract(
            &crate::pdf::tests::pdf("", true),
            "application/pdf",
            1 << 16,
        );
        assert!(extracted.text.is_none());
        assert!(extracted.text_error.is_some());
    }

    #[test]
    fn a_docx_is_read_and_a_zip_bomb_inside_one_gives_a_text_error() {
        const DOCX: &str =
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        let docx = crate::ooxml::tests::zip_of(&[(
            "word/document.xml",
            b"<w:document><w:body><w:p><w:t>Contract with Initech</w:t></w:p></w:body></w:document>",
        )]);
        let extracted = extract(&docx, DOCX, 100);
        assert_eq!(extracted.text.as_deref(), Some("Contract with Initech\n"));
        assert_eq!(extracted.text_error, None);
        let extracted = extract(&crate::ooxml::tests::zip_bomb_docx(), DOCX, 1 << 16);
        assert!(
            extracted
                .text
                .expect("partial text")
                .starts_with("bomb start")
        );
        assert!(
            extracted
                .text_error
                .expect("text_error")
                .contains("inflates past")
        );
    }

    #[test]
    fn text_is_kept_for_search_bounded_and_errors_never_fail() {
        let html =
            b"<html><body><h1>Facture \xc3\x89t\xc3\xa9</h1><script>x()</script></body></html>";
        let extracted = extract(html, "text/html; charset=utf-8", 7);
        assert_eq!(extracted.text.as_deref(), Some("Facture \u{c9}t\u{e9}"));
        // Larger than the record keeps: cut at a character, the rest not read at all.
        let big = "\u{e9}".repeat(2 * crate::text::MAX_TEXT_INPUT);
        let extracted = extract(big.as_bytes(), "text/plain", 1 << 16);
        let whole = extracted
            .index_text
            .clone()
            .expect("the whole text, for the index");
        let text = extracted.text.expect("text");
        assert!(text.len() <= crate::search::MAX_RECORD_TEXT && text.len() > 32_000);
        // Up to 1 MiB for a store's own index, outside the record.
        assert!(whole.len() <= crate::search::MAX_INDEXED_TEXT && whole.len() > 1_000_000);
        assert!(whole.starts_with(&text));
        let mut long = "word ".repeat(900 * 1024 / 5);
        long.push_str("zanzibar");
        let extracted = extract(long.as_bytes(), "text/plain", 1 << 16);
        assert!(
            extracted
                .index_text
                .as_deref()
                .is_some_and(|t| t.ends_with("zanzibar"))
        );
        let stored = serde_json::to_string(&extracted).unwrap_or_default();
        assert!(
            !stored.contains("zanzibar") && stored.len() < 40 * 1024,
            "the record never holds the long text"
        );
        // A short text is the record's alone.
        assert!(extract(b"short", "text/plain", 2).index_text.is_none());
        let extracted = extract(b"{broken", "application/json", 3);
        assert!(extracted.text.is_none());
        assert!(extracted.text_error.is_some());
        // A binary file declared as text has no text.
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
        assert!(extract(png, "text/plain", 5).text.is_none());
    }

    fn pdf(pages: usize) -> Vec<u8> {
        let mut body = b"%PDF-1.7\n1 0 obj << /Type /Pages /Count 2 >> endobj\n".to_vec();
        for n in 0..pages {
            body.extend_from_slice(
                format!("{} 0 obj << /Type/Page /Parent 1 0 R >> endobj\n", n + 2).as_bytes(),
            );
        }
        body.extend_from_slice(b"%%EOF");
        body
    }

    #[test]
    fn hashes_and_counts_every_byte() {
        let e = extract(b"hello world", "text/plain", 3);
        assert_eq!(e.size, 11);
        assert_eq!(
            e.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert!(!e.content_type_mismatch);
    }

    #[test]
    fn counts_pdf_pages_across_any_chunking() {
        let doc = pdf(7);
        for chunk in [1, 2, 5, 7, 64, 4096] {
            let e = extract(&doc, "application/pdf", chunk);
            assert_eq!(e.page_count, Some(7), "chunk {chunk}");
            assert_eq!(e.sniffed_content_type.as_deref(), Some("application/pdf"));
        }
    }

    #[test]
    fn flags_a_type_that_contradicts_the_bytes() {
        let e = extract(&pdf(1), "image/png", 1024);
        assert!(e.content_type_mismatch);
        assert_eq!(e.page_count, Some(1));
    }

    #[test]
    fn reads_png_dimensions() {
        let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        let e = extract(&png, "image/png", 5);
        assert_eq!((e.width, e.height), (Some(640), Some(480)));
        assert_eq!(e.page_count, None);
        assert!(!e.content_type_mismatch);
    }
}
