//! Single byte ranges of a download (RFC 9110 §14): `Range: bytes=first-last`,
//! `bytes=first-` and the suffix `bytes=-n`. A header with several ranges, another
//! unit or a malformed value is ignored (the whole content is sent), as the RFC
//! allows; only a well-formed range past the end is unsatisfiable (416).

/// One requested range, before the size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `first-` or `first-last` (inclusive).
    From { first: u64, last: Option<u64> },
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Parses a `Range` header value; `None` when it is not one single byte range.
    pub fn parse(value: &str) -> Option<Self> {
        let spec = value.trim().strip_prefix("bytes=")?.trim();
        if spec.contains(',') {
            return None;
        }
        let (first, last) = spec.split_once('-')?;
        let number = |text: &str| -> Option<u64> {
            let text = text.trim();
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            text.parse().ok()
        };
        if first.trim().is_empty() {
            return Some(Self::Suffix(number(last)?));
        }
        let first = number(first)?;
        let last = if last.trim().is_empty() {
            None
        } else {
            Some(number(last)?)
        };
        if last.is_some_and(|last| last < first) {
            return None;
        }
        Some(Self::From { first, last })
    }

    /// The inclusive byte positions this range picks from `size` bytes; `None` when
    /// unsatisfiable (416).
    pub fn resolve(self, size: u64) -> Option<(u64, u64)> {
        match self {
            Self::From { first, last } => {
                if first >= size {
                    return None;
                }
                let last = last.map_or(size - 1, |last| last.min(size - 1));
                Some((first, last))
            }
            Self::Suffix(0) => None,
            Self::Suffix(n) => {
                if size == 0 {
                    return None;
                }
                Some((size.saturating_sub(n), size - 1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_parse_and_resolve() {
        let r = |text: &str| ByteRange::parse(text).and_then(|r| r.resolve(100));
        assert_eq!(r("bytes=0-0"), Some((0, 0)));
        assert_eq!(r("bytes=99-99"), Some((99, 99)));
        assert_eq!(r("bytes=10-"), Some((10, 99)));
        assert_eq!(r("bytes=90-500"), Some((90, 99)));
        assert_eq!(r("bytes=-1"), Some((99, 99)));
        assert_eq!(r("bytes=-500"), Some((0, 99)));
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        let range = ByteRange::parse("bytes=100-").unwrap();
        assert_eq!(range.resolve(100), None);
        assert_eq!(ByteRange::parse("bytes=-0").unwrap().resolve(100), None);
    }

    #[test]
    fn other_forms_are_ignored() {
        for text in [
            "bytes=1-2,4-5",
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "",
        ] {
            assert_eq!(ByteRange::parse(text), None, "{text}");
        }
    }
}
