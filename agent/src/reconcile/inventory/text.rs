//! The inventory file as spreadsheets write it, before it is read as CSV: its encoding, its
//! delimiter, its line ends, and HTML in its cells.
//!
//! | what | how it is read |
//! |---|---|
//! | UTF-8, with or without a byte order mark | as it is (the mark dropped) |
//! | UTF-16 with a byte order mark (Excel's "Unicode text") | decoded to UTF-8 |
//! | another encoding (Windows-1252, ISO-8859-x, Shift_JIS, …) | decoded when the inventory map names it (`encoding: windows-1252`, any [WHATWG label]); else a cell that is not UTF-8 makes its row invalid, and the finding names the encoding it looks like and how to name it |
//! | UTF-16 without a byte order mark | refused: the bytes cannot say which half comes first |
//! | delimiter | sniffed from the header line: `,`, `;` or tab, whichever occurs outside quotes; when several do, the one that gives a serial or mac column, else an error naming what it saw |
//! | line ends | LF, CRLF and CR alike, inside quoted cells too: findings name the line an editor shows |
//! | HTML in a cell (Snipe-IT's web export) | read as its text: `<a href="…">R640</a>` is `R640` |
//!
//! Decoding uses `encoding_rs` (Firefox's; every encoding of the WHATWG Encoding Standard).
//!
//! [WHATWG label]: https://encoding.spec.whatwg.org/#names-and-labels

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8};

/// The bytes an inventory is read from: UTF-8 (or, undeclared, what the file holds).
pub struct Decoded<'a> {
    /// The text: UTF-8 when `utf8` (decoded or as found), else the file's bytes.
    pub bytes: Cow<'a, [u8]>,
    /// What the file was read as, for messages (`UTF-8`, `UTF-16LE`, `windows-1252`).
    pub encoding: &'static str,
    /// Whether the encoding was named (map) or marked (byte order mark), as opposed to assumed.
    pub declared: bool,
}

/// The encoding `label` names (`windows-1252`, `latin1`, `utf-16le`, … any WHATWG label, case
/// and surrounding spaces ignored).
pub fn encoding(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label(label.trim().as_bytes())
}

/// Decodes `bytes` as the byte order mark says, else as `declared` says, else leaves them
/// (UTF-8 is checked cell by cell, so one stray byte is one invalid row). `Err`: what is wrong,
/// naming the encoding and the line.
pub fn decode<'a>(
    bytes: &'a [u8],
    declared: Option<&'static Encoding>,
) -> Result<Decoded<'a>, String> {
    // A byte order mark says what the file is, whatever was declared (as browsers do).
    let (encoding, body, marked) = match Encoding::for_bom(bytes) {
        Some((encoding, length)) => (Some(encoding), &bytes[length..], true),
        None => (declared, bytes, false),
    };
    match encoding {
        None => {
            if looks_like_utf16(body) {
                return Err(
                    "it looks like UTF-16 without a byte order mark (every other byte \
                            is NUL): save it as UTF-8, or name its encoding with `encoding: \
                            utf-16le` (or utf-16be) in the --inventory-map file"
                        .to_owned(),
                );
            }
            Ok(Decoded {
                bytes: Cow::Borrowed(body),
                encoding: UTF_8.name(),
                declared: false,
            })
        }
        Some(encoding) if encoding == UTF_8 => Ok(Decoded {
            bytes: Cow::Borrowed(body),
            encoding: UTF_8.name(),
            declared: true,
        }),
        Some(encoding) => {
            let (text, had_errors) = encoding.decode_without_bom_handling(body);
            if had_errors {
                // The first replacement character marks the first malformed sequence.
                let at = text.find('\u{FFFD}').unwrap_or(0);
                return Err(format!(
                    "line {} is not valid {}{}: save the file again in that encoding, or as \
                     UTF-8",
                    line_of(text.as_bytes(), at),
                    encoding.name(),
                    if marked {
                        " (its byte order mark says so)"
                    } else {
                        ""
                    },
                ));
            }
            Ok(Decoded {
                bytes: Cow::Owned(text.into_owned().into_bytes()),
                encoding: encoding.name(),
                declared: true,
            })
        }
    }
}

/// UTF-16 without a mark: in the first KiB, a NUL in most even (or most odd) positions.
fn looks_like_utf16(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    if head.len() < 4 {
        return false;
    }
    let pairs = head.len() / 2;
    let even = head.iter().step_by(2).filter(|b| **b == 0).count();
    let odd = head.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
    even.max(odd) * 2 > pairs
}

/// What a cell that is not UTF-8 probably is, and how to say so: for the invalid row's message.
pub fn undeclared_hint(cell: &[u8]) -> String {
    let Some(bad) = std::str::from_utf8(cell).err().map(|e| e.valid_up_to()) else {
        return String::new();
    };
    let byte = cell[bad];
    // Every byte decodes in Windows-1252 (Excel's "CSV" on a Western Windows): show what the
    // byte would be there, so the operator recognises their letter.
    let (shown, _, _) = encoding_rs::WINDOWS_1252.decode(&cell[bad..=bad]);
    format!(
        "byte 0x{byte:02X}; if the file is Windows-1252 (Excel's CSV on Windows; the byte would \
         be {shown:?}), name its encoding with `encoding: windows-1252` in the --inventory-map \
         file, or save the inventory as UTF-8"
    )
}

/// The 1-based line of byte `offset` in `bytes`: LF, CRLF and CR each end a line.
pub fn line_of(bytes: &[u8], offset: usize) -> u64 {
    let mut counter = LineCounter::default();
    counter.advance(bytes, offset);
    counter.line()
}

/// Line numbers from byte offsets, counting incrementally (offsets only grow). LF, CRLF and a
/// lone CR (old Mac and Excel exports) each end a line, as editors and the CSV reader count them.
#[derive(Default)]
pub struct LineCounter {
    offset: usize,
    breaks: u64,
}

impl LineCounter {
    /// Counts the line ends in `bytes` up to `target` (not past the end).
    pub fn advance(&mut self, bytes: &[u8], target: usize) {
        let target = target.min(bytes.len());
        if target <= self.offset {
            return;
        }
        for (i, b) in bytes[self.offset..target].iter().enumerate() {
            let at = self.offset + i;
            let ends = match b {
                b'\n' => true,
                // CRLF counts once, at its LF.
                b'\r' => bytes.get(at + 1) != Some(&b'\n'),
                _ => false,
            };
            if ends {
                self.breaks += 1;
            }
        }
        self.offset = target;
    }

    /// The line `advance` stopped on.
    pub fn line(&self) -> u64 {
        self.breaks + 1
    }

    /// The 1-based line of the first content byte at or after `offset` (blank lines skipped).
    pub fn line_at(&mut self, bytes: &[u8], offset: u64) -> u64 {
        let mut target = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        while target < bytes.len() && matches!(bytes[target], b'\r' | b'\n') {
            target += 1;
        }
        self.advance(bytes, target);
        self.line()
    }
}

/// The delimiters enlist recognises, as shown in messages.
const DELIMITERS: [(u8, &str); 3] = [(b',', "`,`"), (b';', "`;`"), (b'\t', "tab")];

/// How the header line is delimited.
#[derive(Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// One delimiter (or none at all: a one-column file, read with `,`).
    One(u8),
    /// Several occur outside quotes: `(delimiter, count)`, most frequent first; the caller
    /// picks the one that gives a usable header.
    Several(Vec<(u8, usize)>),
}

/// Counts `,`, `;` and tabs outside quotes on the header line (the first line that is not
/// blank), and the line's number.
pub fn sniff(bytes: &[u8]) -> (Sniffed, u64) {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    let line = line_of(bytes, start);
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for b in &bytes[start..] {
        match b {
            b'"' => quoted = !quoted,
            b'\r' | b'\n' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = DELIMITERS.iter().position(|(d, _)| d == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let mut seen: Vec<(u8, usize)> = DELIMITERS
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|((d, _), n)| (*d, n))
        .collect();
    seen.sort_by_key(|s| std::cmp::Reverse(s.1));
    let sniffed = match seen.as_slice() {
        [] => Sniffed::One(b','),
        [(d, _)] => Sniffed::One(*d),
        _ => Sniffed::Several(seen),
    };
    (sniffed, line)
}

/// A delimiter as messages show it.
pub fn shown_delimiter(delimiter: u8) -> &'static str {
    DELIMITERS
        .iter()
        .find(|(d, _)| *d == delimiter)
        .map_or("`,`", |(_, shown)| shown)
}

/// `3 × `;` and 2 × `,``: what the sniffer saw.
pub fn shown_counts(seen: &[(u8, usize)]) -> String {
    let parts: Vec<String> = seen
        .iter()
        .map(|(d, n)| format!("{n} × {}", shown_delimiter(*d)))
        .collect();
    parts.join(" and ")
}

/// The text of a cell holding HTML markup (Snipe-IT's web export writes what its table shows:
/// `<a href="…">R640</a>`, `<i class="…"></i> Ready to Deploy <label …>Deployed</label>`), as
/// its text pieces in order; `None` for a cell without markup. Only tags are dropped — a `<`
/// that does not start a tag (`a<b`, `< 5`) is text — and the common entities decoded.
pub fn markup_text(cell: &str) -> Option<Vec<String>> {
    let starts_tag = |rest: &str| {
        let mut chars = rest.chars();
        chars.next() == Some('<')
            && chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!')
            && rest.contains('>')
    };
    if !cell.contains('<') || !cell.char_indices().any(|(i, _)| starts_tag(&cell[i..])) {
        return None;
    }
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut rest = cell;
    while let Some(at) = rest.find('<') {
        if starts_tag(&rest[at..]) {
            piece.push_str(&rest[..at]);
            push_piece(&mut pieces, &mut piece);
            // `starts_tag` saw a `>` ahead.
            let end = rest[at..].find('>').map_or(rest.len(), |e| at + e + 1);
            rest = &rest[end..];
        } else {
            piece.push_str(&rest[..=at]);
            rest = &rest[at + 1..];
        }
    }
    piece.push_str(rest);
    push_piece(&mut pieces, &mut piece);
    Some(pieces)
}

fn push_piece(pieces: &mut Vec<String>, piece: &mut String) {
    let text = entities(piece);
    let words: Vec<&str> = text.split_whitespace().collect();
    if !words.is_empty() {
        pieces.push(words.join(" "));
    }
    piece.clear();
}

/// `&amp;` `&lt;` `&gt;` `&quot;` `&#39;` `&apos;` `&nbsp;` and numeric references decoded;
/// anything else left as written.
fn entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest[..rest.len().min(12)].find(';');
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, length)) => {
                out.push(c);
                rest = &rest[length..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_of_every_kind_count_once() {
        let text = b"a\nb\r\nc\rd\r\re";
        let lines: Vec<u64> = (0..text.len()).map(|i| line_of(text, i)).collect();
        assert_eq!(lines, [1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 6]);
    }

    #[test]
    fn the_delimiter_comes_from_the_header_outside_quotes() {
        assert_eq!(sniff(b"serial,model\nA;B,C\n").0, Sniffed::One(b','));
        assert_eq!(sniff(b"serial;model;\"a,b\"\n").0, Sniffed::One(b';'));
        assert_eq!(sniff(b"\r\n\r\nserial\tmodel\r\n").0, Sniffed::One(b'\t'));
        assert_eq!(sniff(b"\r\n\r\nserial\tmodel\r\n").1, 3);
        assert_eq!(sniff(b"serial\n").0, Sniffed::One(b','));
        assert_eq!(
            sniff(b"serial;model,x;y\n").0,
            Sniffed::Several(vec![(b';', 2), (b',', 1)])
        );
        assert_eq!(shown_counts(&[(b';', 2), (b',', 1)]), "2 × `;` and 1 × `,`");
        // A quoted line break is inside the header.
        assert_eq!(sniff(b"\"ser\nial\";model\n").0, Sniffed::One(b';'));
    }

    #[test]
    fn utf16_with_a_mark_is_decoded_without_one_refused() {
        let text = "serial\tmodel\r\nA1\tR640 café\r\n";
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for unit in text.encode_utf16() {
            le.extend(unit.to_le_bytes());
            be.extend(unit.to_be_bytes());
        }
        for bytes in [&le, &be] {
            let decoded = decode(bytes, None).unwrap();
            assert_eq!(std::str::from_utf8(&decoded.bytes).unwrap(), text);
            assert!(decoded.encoding.starts_with("UTF-16"));
        }
        let err = decode(&le[2..], None).err().unwrap();
        assert!(err.contains("UTF-16 without a byte order mark"), "{err}");
        // Named, it is read.
        let decoded = decode(&le[2..], encoding("utf-16le")).unwrap();
        assert_eq!(std::str::from_utf8(&decoded.bytes).unwrap(), text);
        // An unpaired surrogate on line 2.
        let mut broken = le.clone();
        let at = broken.len() - 4;
        broken[at..at + 2].copy_from_slice(&0xD800u16.to_le_bytes());
        let err = decode(&broken, None).err().unwrap();
        assert!(err.starts_with("line 2 is not valid UTF-16LE"), "{err}");
    }

    #[test]
    fn a_named_encoding_is_decoded_and_a_mark_wins() {
        let latin = b"serial,location\nA1,caf\xe9\n";
        let decoded = decode(latin, encoding(" Windows-1252 ")).unwrap();
        assert_eq!(
            std::str::from_utf8(&decoded.bytes).unwrap(),
            "serial,location\nA1,café\n"
        );
        assert_eq!(decoded.encoding, "windows-1252");
        let marked = b"\xEF\xBB\xBFserial\nA1\n";
        let decoded = decode(marked, encoding("latin1")).unwrap();
        assert_eq!(&*decoded.bytes, b"serial\nA1\n");
        assert_eq!(encoding("klingon"), None);
        assert!(undeclared_hint(b"caf\xe9").contains("byte 0xE9"));
        assert!(undeclared_hint(b"caf\xe9").contains("\"é\""));
    }

    #[test]
    fn markup_is_read_as_its_text() {
        let status = "<a href=\"https://snipe.example/statuslabels/1\" data-toggle=\"tooltip\" \
                      title=\"deployed\"> <i class=\"fa fa-circle text-blue\"></i> Ready to \
                      Deploy <label class=\"label label-default\">Deployed</label> </a>";
        assert_eq!(
            markup_text(status).unwrap(),
            ["Ready to Deploy", "Deployed"]
        );
        assert_eq!(
            markup_text("<a href=\"x\"> Dell &amp; Co&#46;</a>").unwrap(),
            ["Dell & Co."]
        );
        assert_eq!(
            markup_text("<img src=\"x\" alt=\"y\">").unwrap(),
            Vec::<String>::new()
        );
        for plain in ["a<b", "< 5 GB", "R640", "x > y", "<5>", "a &amp; b"] {
            assert_eq!(markup_text(plain), None, "{plain}");
        }
        assert_eq!(
            markup_text("&lt;<b>x</b>&gt; &bogus; &#xZZ;").unwrap(),
            ["<", "x", "> &bogus; &#xZZ;"]
        );
    }
}
