//! The `Content-Disposition` value of a download, the same on both backends: local
//! links send it as a header, S3 links carry it as `response-content-disposition`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters left as they are in an RFC 5987 `filename*` value (`attr-char`).
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment` for a file name, per RFC 6266: an ASCII `filename` fallback and the
/// exact name as UTF-8 in `filename*`. The fallback replaces with `_` whatever a
/// quoted string or an old browser could misread (quotes, backslashes, `%`, `;`,
/// controls, non-ASCII), and is `download` when nothing printable is left.
pub fn content_disposition(file_name: &str) -> String {
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() || c == ' ') && !matches!(c, '"' | '\\' | '%' | ';') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let fallback = if fallback.trim().is_empty() {
        "download".to_owned()
    } else {
        fallback
    };
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        utf8_percent_encode(file_name, ATTR_CHAR)
    )
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn content_disposition_follows_rfc_6266() {
        assert_eq!(
            content_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            content_disposition("Été \"x\";100%.pdf"),
            "attachment; filename=\"_t_ _x__100_.pdf\"; filename*=UTF-8''%C3%89t%C3%A9%20%22x%22%3B100%25.pdf"
        );
        assert_eq!(
            content_disposition("a\\b\r\n\"c\".pdf"),
            "attachment; filename=\"a_b___c_.pdf\"; filename*=UTF-8''a%5Cb%0D%0A%22c%22.pdf"
        );
        assert_eq!(
            content_disposition("日本.txt"),
            "attachment; filename=\"__.txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt"
        );
        assert_eq!(
            content_disposition(""),
            "attachment; filename=\"download\"; filename*=UTF-8''"
        );
        assert_eq!(
            content_disposition("\u{1F600}"),
            "attachment; filename=\"_\"; filename*=UTF-8''%F0%9F%98%80"
        );
    }
}
