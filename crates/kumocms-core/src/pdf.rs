//! The text and Info dictionary (title, author, creation date) of a PDF, with
//! `lopdf`. Bounded for hostile files: the extractor hands over at most
//! [`MAX_PDF_INPUT`] bytes, every stream inflates to at most [`MAX_INFLATED`] bytes
//! (on load and per page), at most [`MAX_PAGES`] pages are read, and reading stops
//! once [`crate::text::MAX_TEXT_INPUT`] bytes of text are in hand.

use lopdf::{Document, LoadOptions, Object};

/// The largest PDF whose text is read (the extractor keeps no more).
pub const MAX_PDF_INPUT: usize = 16 * 1024 * 1024;
/// The most one stream (an object stream, one page's content) may inflate to.
pub const MAX_INFLATED: usize = 8 * 1024 * 1024;
/// The most pages read.
pub const MAX_PAGES: usize = 2000;

/// What a PDF told about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PdfText {
    pub text: String,
    pub title: Option<String>,
    pub author: Option<String>,
    /// The Info dictionary's `CreationDate`, as RFC 3339 when it parses.
    pub created: Option<String>,
    /// Why the text is missing or incomplete.
    pub error: Option<String>,
}

pub fn read(bytes: &[u8]) -> PdfText {
    let options = LoadOptions {
        max_decompressed_size: Some(MAX_INFLATED),
        ..LoadOptions::default()
    };
    let document = match Document::load_mem_with_options(bytes, options) {
        Ok(document) => document,
        Err(e) => {
            return PdfText {
                error: Some(format!("the PDF does not read: {e}")),
                ..PdfText::default()
            };
        }
    };
    let mut out = PdfText::default();
    if let Some(info) = info(&document) {
        let field = |key: &[u8]| {
            info.get(key)
                .ok()
                .and_then(|o| lopdf::decode_text_string(o).ok())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        out.title = field(b"Title");
        out.author = field(b"Author");
        out.created = info
            .get(b"CreationDate")
            .ok()
            .and_then(|o| o.as_str().ok())
            .and_then(pdf_date);
    }
    let pages: Vec<u32> = document
        .get_pages()
        .keys()
        .copied()
        .take(MAX_PAGES)
        .collect();
    for page in pages {
        for chunk in document.extract_text_chunks_with_limit(&[page], MAX_INFLATED) {
            match chunk {
                Ok(text) => out.text.push_str(&text),
                Err(e) => {
                    out.error = Some(format!("page {page}: {e}"));
                    return out;
                }
            }
        }
        out.text.push('\n');
        if out.text.len() >= crate::text::MAX_TEXT_INPUT {
            break;
        }
    }
    out
}

fn info(document: &Document) -> Option<&lopdf::Dictionary> {
    match document.trailer.get(b"Info").ok()? {
        Object::Reference(id) => document.get_object(*id).ok()?.as_dict().ok(),
        Object::Dictionary(dict) => Some(dict),
        _ => None,
    }
}

/// `D:YYYYMMDDHHmmSS` with an optional offset (`Z`, `+01'00'`) as RFC 3339.
fn pdf_date(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    let text = text.strip_prefix("D:").unwrap_or(text);
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() < 4 {
        return None;
    }
    let part = |from: usize, len: usize, default: &str| {
        digits
            .get(from..from + len)
            .map_or_else(|| default.to_owned(), str::to_owned)
    };
    let rest = &text[digits.len()..];
    let offset = match rest.chars().next() {
        Some(sign @ ('+' | '-')) => {
            let numbers: String = rest[1..].chars().filter(char::is_ascii_digit).collect();
            let hours = numbers.get(0..2).unwrap_or("00");
            let minutes = numbers.get(2..4).unwrap_or("00");
            format!("{sign}{hours}:{minutes}")
        }
        _ => "Z".to_owned(),
    };
    let stamp = format!(
        "{}-{}-{}T{}:{}:{}{offset}",
        part(0, 4, "0000"),
        part(4, 2, "01"),
        part(6, 2, "01"),
        part(8, 2, "00"),
        part(10, 2, "00"),
        part(12, 2, "00"),
    );
    chrono::DateTime::parse_from_rfc3339(&stamp).ok().map(|t| {
        t.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use lopdf::content::{Content, Operation};
    use lopdf::{Stream, dictionary};

    use super::*;

    /// A one-page PDF with `text` (or, when `bomb` is set, a content stream that
    /// inflates to 64 MiB) and an Info dictionary.
    pub(crate) fn pdf(text: &str, bomb: bool) -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier",
        });
        let resources_id =
            doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
        let bytes = if bomb {
            let mut content = b"BT /F1 12 Tf 10 10 Td (bomb) Tj ET\n".to_vec();
            content.resize(64 * 1024 * 1024, b' ');
            content
        } else {
            Content {
                operations: vec![
                    Operation::new("BT", vec![]),
                    Operation::new("Tf", vec!["F1".into(), 24.into()]),
                    Operation::new("Td", vec![100.into(), 600.into()]),
                    Operation::new("Tj", vec![Object::string_literal(text)]),
                    Operation::new("ET", vec![]),
                ],
            }
            .encode()
            .unwrap()
        };
        let mut stream = Stream::new(dictionary! {}, bytes);
        stream.compress().unwrap();
        let content_id = doc.add_object(stream);
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
                "Resources" => resources_id,
                "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            }),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        let info_id = doc.add_object(dictionary! {
            "Title" => Object::string_literal("Quarterly Report"),
            "Author" => Object::string_literal("Jane Roe"),
            "CreationDate" => Object::string_literal("D:20240131120000+01'00'"),
        });
        doc.trailer.set("Root", catalog_id);
        doc.trailer.set("Info", info_id);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    #[test]
    fn text_and_info_of_a_generated_pdf() {
        let read = read(&pdf("Invoice for ACME due March", false));
        assert_eq!(read.error, None);
        assert!(
            read.text.contains("Invoice for ACME due March"),
            "{:?}",
            read.text
        );
        assert_eq!(read.title.as_deref(), Some("Quarterly Report"));
        assert_eq!(read.author.as_deref(), Some("Jane Roe"));
        assert_eq!(read.created.as_deref(), Some("2024-01-31T11:00:00Z"));
    }

    #[test]
    fn a_pdf_bomb_and_garbage_give_errors_not_failures() {
        let bomb = pdf("", true);
        assert!(
            bomb.len() < 1024 * 1024,
            "the bomb is small: {}",
            bomb.len()
        );
        let read = read(&bomb);
        assert!(read.error.is_some(), "{read:?}");
        assert!(!read.text.contains("bomb"));
        assert!(super::read(b"%PDF-1.7 garbage").error.is_some());
    }
}
