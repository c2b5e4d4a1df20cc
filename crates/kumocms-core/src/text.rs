//! The text of content, for search: plain text and Markdown as they are, HTML
//! without its tags (and without scripts and styles), JSON as its keys and values.
//! Input is the first [`MAX_TEXT_INPUT`] bytes of the content (the extractor keeps no
//! more), so time and memory are bounded by that whatever the file. Formats that
//! need a parser of their own: OOXML in `ooxml`; PDF is not read yet.

/// The most content bytes text is taken from (1 MiB).
pub const MAX_TEXT_INPUT: usize = 1024 * 1024;

/// What text extraction made of the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextOutcome {
    /// Not a format text is taken from.
    NotText,
    Text(String),
    /// A text format that could not be read; the reason goes to `extracted.text_error`.
    Failed(String),
    /// Part of the text, and why the rest was not read.
    Partial(String, String),
}

/// The text of `bytes` (the content's first bytes; `truncated` when there were more),
/// by the declared media type essence.
pub fn extract(declared_essence: &str, bytes: &[u8], truncated: bool) -> TextOutcome {
    match declared_essence {
        "text/html" | "application/xhtml+xml" => TextOutcome::Text(strip_html(&lossy(bytes))),
        "application/json" | "application/ld+json" => {
            if truncated {
                // Half a JSON document does not parse; its strings are still words.
                return TextOutcome::Text(lossy(bytes));
            }
            match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(value) => {
                    let mut out = String::new();
                    json_text(&value, &mut out);
                    TextOutcome::Text(out)
                }
                Err(e) => TextOutcome::Failed(format!("the JSON does not parse: {e}")),
            }
        }
        essence
            if essence.starts_with("text/")
                || matches!(essence, "application/xml" | "application/x-yaml") =>
        {
            TextOutcome::Text(lossy(bytes))
        }
        _ => TextOutcome::NotText,
    }
}

/// UTF-8, with anything else replaced, cut at the last whole character.
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_text(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Number(n) => {
            out.push_str(&n.to_string());
            out.push('\n');
        }
        Value::Bool(b) => out.push_str(if *b { "true\n" } else { "false\n" }),
        Value::Array(items) => items.iter().for_each(|v| json_text(v, out)),
        Value::Object(map) => {
            for (key, v) in map {
                out.push_str(key);
                out.push('\n');
                json_text(v, out);
            }
        }
        Value::Null => {}
    }
}

/// HTML to text: tags become spaces, `<script>` and `<style>` contents and comments
/// go, the common entities are decoded. Linear in the input, no tree built.
pub fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    while at < html.len() {
        let rest = &html[at..];
        if rest.starts_with("<!--") {
            at += rest.find("-->").map_or(rest.len(), |end| end + 3);
            continue;
        }
        if rest.starts_with('<') {
            let lower_rest = &lower[at..];
            for skipped in ["script", "style"] {
                if lower_rest[1..].starts_with(skipped) {
                    let close = format!("</{skipped}");
                    let end = lower_rest.find(&close).unwrap_or(lower_rest.len());
                    at += end;
                    break;
                }
            }
            let rest = &html[at..];
            at += rest.find('>').map_or(rest.len(), |end| end + 1);
            out.push(' ');
            continue;
        }
        if rest.starts_with('&')
            && let Some(end) = rest.find(';').filter(|end| *end <= 10)
        {
            let decoded = match &rest[1..end] {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                other => other
                    .strip_prefix('#')
                    .and_then(|n| match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => n.parse().ok(),
                    })
                    .and_then(char::from_u32),
            };
            if let Some(c) = decoded {
                out.push(c);
                at += end + 1;
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        at += c.len_utf8();
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` cut to at most `max` bytes, at a character boundary.
pub fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_loses_tags_scripts_styles_and_comments() {
        let page = "<html><head><title>Rapport d&#39;&eacute;t&eacute;</title><style>p{color:red}</style>\
                    <script>var secret = 1;</script></head><body><!-- hidden --><h1>Facture</h1>\
                    <p>Total&nbsp;:&nbsp;12&amp;5 &lt;EUR&gt;</p></body></html>";
        let text = strip_html(page);
        assert!(text.contains("Facture"), "{text}");
        assert!(text.contains("Total : 12&5 <EUR>"), "{text}");
        assert!(
            !text.contains("secret") && !text.contains("color") && !text.contains("hidden"),
            "{text}"
        );
        assert!(!text.contains('<') || text.contains("<EUR>"), "{text}");
    }

    #[test]
    fn formats_by_declared_type() {
        assert_eq!(
            extract("text/markdown", b"# Title\nbody", false),
            TextOutcome::Text("# Title\nbody".into())
        );
        assert_eq!(
            extract("image/png", b"\x89PNG", false),
            TextOutcome::NotText
        );
        match extract(
            "application/json",
            br#"{"customer": {"name": "ACME"}, "n": [1, true]}"#,
            false,
        ) {
            TextOutcome::Text(t) => assert_eq!(t, "customer\nname\nACME\nn\n1\ntrue\n"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            extract("application/json", b"{oops", false),
            TextOutcome::Failed(_)
        ));
        // Nesting past serde_json's recursion limit fails cleanly instead of overflowing.
        let deep = "[".repeat(100_000);
        assert!(matches!(
            extract("application/json", deep.as_bytes(), false),
            TextOutcome::Failed(_)
        ));
        assert_eq!(truncate("ééé".into(), 3), "é");
    }
}
