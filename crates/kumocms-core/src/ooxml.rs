//! The text of Office Open XML files (DOCX, XLSX, PPTX): a zip of XML parts, read
//! with `zip` and `quick-xml`. Bounded for hostile files: the extractor hands over at
//! most [`MAX_OOXML_INPUT`] bytes, at most [`MAX_PARTS`] parts are read, and no more
//! than [`MAX_INFLATED`] bytes are inflated in all, whatever the sizes the archive
//! claims (a zip bomb stops there, with the text read so far and an error saying
//! why).

use std::io::{Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::Event;

/// The largest OOXML file whose text is read (the extractor keeps no more).
pub const MAX_OOXML_INPUT: usize = 16 * 1024 * 1024;
/// The most XML inflated from one file, all parts together.
pub const MAX_INFLATED: u64 = 8 * 1024 * 1024;
/// The most parts read from one file.
pub const MAX_PARTS: usize = 512;

/// The declared types read as OOXML.
pub fn is_ooxml(essence: &str) -> bool {
    matches!(
        essence,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            | "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    )
}

/// Whether a part holds text worth indexing.
fn is_text_part(name: &str) -> bool {
    name == "word/document.xml"
        || (name.starts_with("word/header") || name.starts_with("word/footer"))
            && name.ends_with(".xml")
        || name == "xl/sharedStrings.xml"
        || (name.starts_with("ppt/slides/slide") && name.ends_with(".xml"))
        || name == "docProps/core.xml"
}

/// The text of an OOXML file, and why it is incomplete when it is.
pub fn text(bytes: &[u8]) -> (String, Option<String>) {
    let mut archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(archive) => archive,
        Err(e) => {
            return (
                String::new(),
                Some(format!("not a readable OOXML zip: {e}")),
            );
        }
    };
    let mut out = String::new();
    let mut inflated: u64 = 0;
    let names: Vec<String> = archive
        .file_names()
        .filter(|n| is_text_part(n))
        .take(MAX_PARTS)
        .map(str::to_owned)
        .collect();
    for name in names {
        let part = match archive.by_name(&name) {
            Ok(part) => part,
            Err(e) => return (out, Some(format!("{name}: {e}"))),
        };
        let budget = MAX_INFLATED.saturating_sub(inflated);
        let mut xml = Vec::new();
        // `take` bounds what is inflated, whatever the header claims.
        if let Err(e) = part.take(budget + 1).read_to_end(&mut xml) {
            return (out, Some(format!("{name}: {e}")));
        }
        inflated += xml.len() as u64;
        let over = xml.len() as u64 > budget;
        if over {
            xml.truncate(usize::try_from(budget).unwrap_or(0));
        }
        xml_text(&xml, &mut out);
        if over {
            return (
                out,
                Some(format!(
                    "the file inflates past {MAX_INFLATED} bytes of XML; text read up to there"
                )),
            );
        }
    }
    (out, None)
}

/// The character data of an XML part, a line per paragraph, row or shared string.
fn xml_text(xml: &[u8], out: &mut String) {
    let mut reader = Reader::from_reader(xml);
    let mut buffer = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer) {
            Ok(Event::Text(t)) => out.push_str(&t.xml10_content()),
            Ok(Event::CData(t)) => out.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) => match r.resolve_char_ref() {
                Ok(Some(c)) => out.push(c),
                _ => out.push(match r.xml10_content().as_ref() {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => ' ',
                }),
            },
            Ok(Event::End(end)) => {
                let local = end.local_name();
                let name: &str = local.as_ref();
                if matches!(
                    name,
                    "p" | "si" | "row" | "tab" | "br" | "title" | "creator"
                ) {
                    out.push('\n');
                } else if matches!(name, "c" | "tc") {
                    out.push(' ');
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
        buffer.clear();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Write;

    use super::*;

    /// A zip of `parts`, deflated, as an Office application writes one.
    pub(crate) fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, body) in parts {
            writer.start_file(*name, options).unwrap();
            writer.write_all(body).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn docx_xlsx_and_pptx_text() {
        let docx = zip_of(&[
            ("[Content_Types].xml", b"<Types/>"),
            (
                "word/document.xml",
                br#"<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>Fac</w:t></w:r><w:r><w:t>ture ACME</w:t></w:r></w:p><w:p><w:r><w:t>Total &amp; due &#233;t&#xE9;</w:t></w:r></w:p></w:body></w:document>"#,
            ),
        ]);
        let (text, error) = text(&docx);
        assert_eq!(error, None);
        assert!(text.contains("Facture ACME\nTotal & due été"), "{text:?}");

        let xlsx = zip_of(&[(
            "xl/sharedStrings.xml",
            br#"<sst><si><t>Invoice</t></si><si><t>Globex</t></si></sst>"#,
        )]);
        assert_eq!(text_of(&xlsx), "Invoice\nGlobex\n");
        let pptx = zip_of(&[(
            "ppt/slides/slide1.xml",
            br#"<p:sld><a:p><a:r><a:t>Quarterly results</a:t></a:r></a:p></p:sld>"#,
        )]);
        assert_eq!(text_of(&pptx), "Quarterly results\n");
        let (text, error) = super::text(b"PK\x03\x04 not really a zip");
        assert!(text.is_empty() && error.is_some());
    }

    fn text_of(bytes: &[u8]) -> String {
        let (text, error) = text(bytes);
        assert_eq!(error, None);
        text
    }

    /// A DOCX whose document part inflates to 64 MiB from a few dozen KiB: reading
    /// stops at the bound with the text so far and an error.
    pub(crate) fn zip_bomb_docx() -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(9))
            .large_file(true);
        writer.start_file("word/document.xml", options).unwrap();
        writer
            .write_all(b"<w:document><w:body><w:p><w:t>bomb start</w:t></w:p><w:p><w:t>")
            .unwrap();
        let block = vec![b'a'; 1024 * 1024];
        for _ in 0..64 {
            writer.write_all(&block).unwrap();
        }
        writer
            .write_all(b"</w:t></w:p></w:body></w:document>")
            .unwrap();
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn a_zip_bomb_stops_at_the_inflate_bound() {
        let bomb = zip_bomb_docx();
        assert!(
            bomb.len() < 1024 * 1024,
            "the bomb is small: {}",
            bomb.len()
        );
        let (text, error) = text(&bomb);
        assert!(
            text.starts_with("bomb start"),
            "{:?}",
            &text[..20.min(text.len())]
        );
        assert!(text.len() as u64 <= MAX_INFLATED);
        assert!(error.expect("an error").contains("inflates past"));
    }
}
