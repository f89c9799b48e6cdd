//! Streaming readers for departmental exports: CSV (UTF-8 or GBK/GB18030), NDJSON,
//! JSON arrays and Excel `.xlsx`.
//!
//! Every reader pushes one [`ReadEvent`] per row to a callback, so memory stays
//! bounded by the largest row, whatever the file size. A row that cannot be read
//! (bad JSON, wrong column count, undecodable bytes) is reported as
//! [`ReadEvent::Bad`] with its line and the reader carries on; only I/O failures and
//! unreadable containers stop the read.

use std::io::{self, BufRead, BufReader, Read, Seek};
use std::ops::ControlFlow;
use std::sync::Arc;

use calamine::{DataRef, Reader as _, Xlsx};
use thiserror::Error;

/// A row as read from the file: 1-based line (CSV/NDJSON/JSON: the text line the row
/// starts on; xlsx: the sheet row number) and its non-empty cells by column name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRow {
    pub line: u64,
    pub fields: Vec<(Arc<str>, String)>,
}

impl RawRow {
    /// The value of column `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a reader reports, in file order.
#[derive(Debug)]
pub enum ReadEvent<'a> {
    /// Column names, for formats that have a header (CSV, xlsx); sent once, first.
    Header(&'a [Arc<str>]),
    Row(RawRow),
    /// A row that could not be read; the reason is for the rejection report.
    Bad {
        line: u64,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Ndjson,
    JsonArray,
    Xlsx,
}

impl FileFormat {
    /// From a file name's extension: `.csv`/`.txt`, `.ndjson`/`.jsonl`, `.json`, `.xlsx`.
    pub fn from_file_name(name: &str) -> Option<FileFormat> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" | "txt" | "tsv" => FileFormat::Csv,
            "ndjson" | "jsonl" => FileFormat::Ndjson,
            "json" => FileFormat::JsonArray,
            "xlsx" => FileFormat::Xlsx,
            _ => return None,
        })
    }

    pub fn parse(s: &str) -> Option<FileFormat> {
        Some(match s {
            "csv" => FileFormat::Csv,
            "ndjson" | "jsonl" => FileFormat::Ndjson,
            "json" => FileFormat::JsonArray,
            "xlsx" => FileFormat::Xlsx,
            _ => return None,
        })
    }
}

/// Text encoding of CSV/JSON input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextEncoding {
    /// Byte-order mark if any, else UTF-8 if a 64 KiB sample is valid UTF-8, else GB18030.
    #[default]
    Auto,
    Utf8,
    /// GB18030, a superset of GBK and GB2312.
    Gb18030,
}

impl TextEncoding {
    pub fn parse(s: &str) -> Option<TextEncoding> {
        Some(match s.to_ascii_lowercase().as_str() {
            "auto" => TextEncoding::Auto,
            "utf-8" | "utf8" => TextEncoding::Utf8,
            "gbk" | "gb2312" | "gb18030" => TextEncoding::Gb18030,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub encoding: TextEncoding,
    /// CSV delimiter; default `,` (`\t` for `.tsv` is the caller's choice).
    pub delimiter: Option<u8>,
    /// xlsx sheet; default the first.
    pub sheet: Option<String>,
}

#[derive(Debug, Error)]
pub enum ReadError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("{file}: CSV header: {message}")]
    CsvHeader { file: String, message: String },
    #[error("{file} line {line}: expected a JSON array")]
    NotAnArray { file: String, line: u64 },
    #[error("{file}: not a readable xlsx workbook: {message}")]
    Xlsx { file: String, message: String },
    #[error("{file}: sheet {sheet:?} not found")]
    Sheet { file: String, sheet: String },
}

/// Largest single JSON element or NDJSON line accepted, to keep memory bounded.
pub const MAX_ROW_BYTES: usize = 16 << 20;

/// Reads `input` as `format`, calling `f` for each event until the end or until `f`
/// breaks. `file` names the input in errors.
pub fn read_rows<R: Read + Seek>(
    file: &str,
    input: R,
    format: FileFormat,
    opts: &ReadOptions,
    f: &mut dyn FnMut(ReadEvent<'_>) -> ControlFlow<()>,
) -> Result<(), ReadError> {
    let io_err = |source| ReadError::Io {
        file: file.to_owned(),
        source,
    };
    match format {
        FileFormat::Xlsx => read_xlsx(file, input, opts, f),
        FileFormat::Csv => {
            let dec = DecodingReader::new(input, opts.encoding).map_err(io_err)?;
            read_csv(file, dec, opts, f)
        }
        FileFormat::Ndjson => {
            let dec = DecodingReader::new(input, opts.encoding).map_err(io_err)?;
            read_ndjson(file, BufReader::new(dec), f)
        }
        FileFormat::JsonArray => {
            let dec = DecodingReader::new(input, opts.encoding).map_err(io_err)?;
            read_json_array(file, BufReader::new(dec), f)
        }
    }
}

/// Decodes GB18030 (or strips a UTF-8 BOM and passes UTF-8 through) while streaming.
pub(crate) struct DecodingReader<R> {
    inner: BufReader<R>,
    /// `None`: pass bytes through unchanged (UTF-8).
    decoder: Option<encoding_rs::Decoder>,
    out: Vec<u8>,
    out_pos: usize,
    eof: bool,
}

impl<R: Read> DecodingReader<R> {
    pub(crate) fn new(input: R, enc: TextEncoding) -> io::Result<Self> {
        let mut inner = BufReader::with_capacity(64 << 10, input);
        // The detection sample is whatever the first read buffered (up to 64 KiB);
        // it is peeked, not consumed, so the decoder sees the same bytes again.
        let sample = inner.fill_buf()?.to_vec();
        let bom = encoding_rs::Encoding::for_bom(&sample);
        let decoder = match (bom, enc) {
            (Some((e, len)), _) => {
                inner.consume(len);
                if e == encoding_rs::UTF_8 {
                    None
                } else {
                    Some(e.new_decoder_without_bom_handling())
                }
            }
            (None, TextEncoding::Utf8) => None,
            (None, TextEncoding::Gb18030) => {
                Some(encoding_rs::GB18030.new_decoder_without_bom_handling())
            }
            (None, TextEncoding::Auto) => match std::str::from_utf8(&sample) {
                Ok(_) => None,
                // A multi-byte character cut by the end of the sample is still UTF-8.
                Err(e) if e.error_len().is_none() => None,
                Err(_) => Some(encoding_rs::GB18030.new_decoder_without_bom_handling()),
            },
        };
        Ok(DecodingReader {
            inner,
            decoder,
            out: Vec::new(),
            out_pos: 0,
            eof: false,
        })
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(decoder) = self.decoder.as_mut() else {
            return self.inner.read(buf);
        };
        while self.out_pos >= self.out.len() {
            if self.eof {
                return Ok(0);
            }
            self.out.clear();
            self.out_pos = 0;
            let input = self.inner.fill_buf()?;
            let last = input.is_empty();
            let cap = decoder
                .max_utf8_buffer_length(input.len())
                .unwrap_or(input.len() * 3 + 16);
            self.out.resize(cap, 0);
            let (_, read, written, _) = decoder.decode_to_utf8(input, &mut self.out, last);
            self.out.truncate(written);
            self.inner.consume(read);
            if last {
                self.eof = true;
            }
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

fn read_csv<R: Read>(
    file: &str,
    input: R,
    opts: &ReadOptions,
    f: &mut dyn FnMut(ReadEvent<'_>) -> ControlFlow<()>,
) -> Result<(), ReadError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .delimiter(opts.delimiter.unwrap_or(b','))
        .from_reader(input);
    let header_err = |message: String| ReadError::CsvHeader {
        file: file.to_owned(),
        message,
    };
    let headers: Vec<Arc<str>> = rdr
        .byte_headers()
        .map_err(|e| header_err(e.to_string()))?
        .iter()
        .enumerate()
        .map(|(i, h)| {
            std::str::from_utf8(h)
                .map(|s| Arc::from(s.trim()))
                .map_err(|_| header_err(format!("column {} is not valid text", i + 1)))
        })
        .collect::<Result<_, _>>()?;
    if f(ReadEvent::Header(&headers)).is_break() {
        return Ok(());
    }
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                // csv's record position counts blank lines skipped before the record
                // as part of it; derive the true start line from where the record
                // ends minus the newlines inside its (quoted) fields. (A final
                // unterminated record after blank lines keeps csv's count.)
                let reported = rec.position().map_or(0, |p| p.line());
                let embedded = rec
                    .iter()
                    .map(|f| f.iter().filter(|b| **b == b'\n').count() as u64)
                    .sum::<u64>();
                let line = rdr
                    .position()
                    .line()
                    .saturating_sub(embedded + 1)
                    .max(reported);
                let ev = csv_row(&headers, &rec, line);
                if f(ev).is_break() {
                    return Ok(());
                }
            }
            Err(e) => {
                if let csv::ErrorKind::Io(_) = e.kind() {
                    let csv::ErrorKind::Io(io) = e.into_kind() else {
                        unreachable!()
                    };
                    return Err(ReadError::Io {
                        file: file.to_owned(),
                        source: io,
                    });
                }
                let line = e.position().map_or(0, |p| p.line());
                if f(ReadEvent::Bad {
                    line,
                    reason: e.to_string(),
                })
                .is_break()
                {
                    return Ok(());
                }
            }
        }
    }
}

fn csv_row<'a>(headers: &[Arc<str>], rec: &csv::ByteRecord, line: u64) -> ReadEvent<'a> {
    if rec.len() != headers.len() {
        // A trailing empty field is a common export artefact; tolerate that only.
        let extra_empty =
            rec.len() > headers.len() && rec.iter().skip(headers.len()).all(|b| b.is_empty());
        if !extra_empty {
            return ReadEvent::Bad {
                line,
                reason: format!("row has {} fields, header has {}", rec.len(), headers.len()),
            };
        }
    }
    let mut fields = Vec::with_capacity(headers.len());
    for (h, v) in headers.iter().zip(rec.iter()) {
        let Ok(s) = std::str::from_utf8(v) else {
            return ReadEvent::Bad {
                line,
                reason: format!("column {h}: bytes are not valid UTF-8 (wrong encoding option?)"),
            };
        };
        if s.contains('\u{FFFD}') {
            return ReadEvent::Bad {
                line,
                reason: format!("column {h}: bytes are not valid GB18030"),
            };
        }
        if !s.trim().is_empty() {
            fields.push((h.clone(), s.to_owned()));
        }
    }
    ReadEvent::Row(RawRow { line, fields })
}

fn json_fields(
    obj: serde_json::Map<String, serde_json::Value>,
    keys: &mut KeyCache,
) -> Vec<(Arc<str>, String)> {
    obj.into_iter()
        .filter_map(|(k, v)| {
            let s = match v {
                serde_json::Value::Null => return None,
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            if s.trim().is_empty() {
                return None;
            }
            Some((keys.get(&k), s))
        })
        .collect()
}

/// Shares column-name allocations between rows of self-describing formats.
#[derive(Default)]
struct KeyCache(Vec<Arc<str>>);

impl KeyCache {
    fn get(&mut self, k: &str) -> Arc<str> {
        if let Some(a) = self.0.iter().find(|a| &***a == k) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(k);
        if self.0.len() < 4096 {
            self.0.push(a.clone());
        }
        a
    }
}

fn json_row(bytes: &[u8], line: u64, keys: &mut KeyCache) -> ReadEvent<'static> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(obj)) => ReadEvent::Row(RawRow {
            line,
            fields: json_fields(obj, keys),
        }),
        Ok(other) => ReadEvent::Bad {
            line,
            reason: format!("expected a JSON object, found {}", json_type(&other)),
        },
        Err(e) => ReadEvent::Bad {
            line,
            reason: format!("invalid JSON: {e}"),
        },
    }
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn read_ndjson<R: BufRead>(
    file: &str,
    mut input: R,
    f: &mut dyn FnMut(ReadEvent<'_>) -> ControlFlow<()>,
) -> Result<(), ReadError> {
    let mut buf = Vec::new();
    let mut line = 0u64;
    let mut keys = KeyCache::default();
    loop {
        buf.clear();
        let n = (&mut input)
            .take(MAX_ROW_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|source| ReadError::Io {
                file: file.to_owned(),
                source,
            })?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        let ev = if buf.len() > MAX_ROW_BYTES && !buf.ends_with(b"\n") {
            // Skip the rest of the over-long line.
            let mut sink = Vec::new();
            input
                .read_until(b'\n', &mut sink)
                .map_err(|source| ReadError::Io {
                    file: file.to_owned(),
                    source,
                })?;
            ReadEvent::Bad {
                line,
                reason: format!("line is longer than {MAX_ROW_BYTES} bytes"),
            }
        } else {
            let text = buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            json_row(text, line, &mut keys)
        };
        if f(ev).is_break() {
            return Ok(());
        }
    }
}

/// Streams the elements of a top-level JSON array, one object at a time, by
/// scanning for element boundaries (depth, strings, escapes) so that only one
/// element is ever held in memory.
fn read_json_array<R: BufRead>(
    file: &str,
    mut input: R,
    f: &mut dyn FnMut(ReadEvent<'_>) -> ControlFlow<()>,
) -> Result<(), ReadError> {
    let io_err = |source| ReadError::Io {
        file: file.to_owned(),
        source,
    };
    let mut line = 1u64;
    let mut started = false;
    let mut elem: Vec<u8> = Vec::new();
    let mut elem_line = 0u64;
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escape = false;
    let mut oversize = false;
    let mut keys = KeyCache::default();
    loop {
        let chunk = input.fill_buf().map_err(io_err)?;
        if chunk.is_empty() {
            break;
        }
        let len = chunk.len();
        let mut i = 0;
        while i < len {
            let b = chunk[i];
            i += 1;
            if !started {
                match b {
                    b'[' => started = true,
                    b'\n' => line += 1,
                    b' ' | b'\t' | b'\r' => {}
                    _ => {
                        return Err(ReadError::NotAnArray {
                            file: file.to_owned(),
                            line,
                        });
                    }
                }
                continue;
            }
            if b == b'\n' {
                line += 1;
            }
            if in_str {
                if !oversize {
                    elem.push(b);
                }
                if escape {
                    escape = false;
                } else if b == b'\\' {
                    escape = true;
                } else if b == b'"' {
                    in_str = false;
                }
                continue;
            }
            let at_top = depth == 0;
            match b {
                b' ' | b'\t' | b'\r' | b'\n' if at_top => continue,
                b',' | b']' if at_top => {
                    if !elem.is_empty() || oversize {
                        let ev = if oversize {
                            ReadEvent::Bad {
                                line: elem_line,
                                reason: format!("element is longer than {MAX_ROW_BYTES} bytes"),
                            }
                        } else {
                            json_row(&elem, elem_line, &mut keys)
                        };
                        elem.clear();
                        oversize = false;
                        if f(ev).is_break() {
                            return Ok(());
                        }
                    }
                    if b == b']' {
                        return Ok(());
                    }
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                b'"' => in_str = true,
                _ => {}
            }
            if elem.is_empty() && !oversize {
                elem_line = line;
            }
            if elem.len() >= MAX_ROW_BYTES {
                oversize = true;
                elem.clear();
            }
            if !oversize {
                elem.push(b);
            }
        }
        input.consume(len);
    }
    if !started {
        return Err(ReadError::NotAnArray {
            file: file.to_owned(),
            line,
        });
    }
    // Unterminated array: report the dangling element rather than dropping it silently.
    if !elem.is_empty() || oversize {
        let _ = f(ReadEvent::Bad {
            line: elem_line,
            reason: "array is not terminated by ]".into(),
        });
    }
    Ok(())
}

fn cell_text(v: &DataRef<'_>) -> Result<Option<String>, String> {
    Ok(match v {
        DataRef::Empty => None,
        DataRef::String(s) => Some(s.clone()),
        DataRef::SharedString(s) => Some((*s).to_owned()),
        DataRef::Int(i) => Some(i.to_string()),
        DataRef::Float(x) => Some(if x.fract() == 0.0 && x.abs() < 1e15 {
            format!("{}", *x as i64)
        } else {
            x.to_string()
        }),
        DataRef::Bool(b) => Some(b.to_string()),
        DataRef::DateTime(dt) => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            Some(if (h, mi, s) == (0, 0, 0) {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            })
        }
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Some(s.clone()),
        DataRef::Error(e) => return Err(format!("cell error {e}")),
    })
}

fn read_xlsx<R: Read + Seek>(
    file: &str,
    input: R,
    opts: &ReadOptions,
    f: &mut dyn FnMut(ReadEvent<'_>) -> ControlFlow<()>,
) -> Result<(), ReadError> {
    let xerr = |e: calamine::XlsxError| ReadError::Xlsx {
        file: file.to_owned(),
        message: e.to_string(),
    };
    let mut wb: Xlsx<_> = Xlsx::new(input).map_err(xerr)?;
    let sheet = match &opts.sheet {
        Some(s) => s.clone(),
        None => wb
            .sheet_names()
            .first()
            .cloned()
            .ok_or_else(|| ReadError::Sheet {
                file: file.to_owned(),
                sheet: "(first)".into(),
            })?,
    };
    if !wb.sheet_names().contains(&sheet) {
        return Err(ReadError::Sheet {
            file: file.to_owned(),
            sheet,
        });
    }
    let mut cells = wb.worksheet_cells_reader(&sheet).map_err(xerr)?;
    // Header: the first row that has any cell; data cells are named by its columns.
    let mut headers: Vec<Option<Arc<str>>> = Vec::new();
    let mut header_row: Option<u32> = None;
    let mut header_sent = false;
    let mut cur_row: Option<u32> = None;
    let mut fields: Vec<(Arc<str>, String)> = Vec::new();
    let mut bad: Option<String> = None;
    while let Some(cell) = cells.next_cell().map_err(xerr)? {
        let (row, col) = cell.get_position();
        let col = col as usize;
        let text = cell_text(cell.get_value());
        if header_row.is_none() {
            header_row = Some(row);
        }
        if header_row == Some(row) {
            if headers.len() <= col {
                headers.resize(col + 1, None);
            }
            if let Ok(Some(t)) = text {
                let t = t.trim();
                if !t.is_empty() {
                    headers[col] = Some(Arc::from(t));
                }
            }
            continue;
        }
        if !header_sent {
            header_sent = true;
            let names: Vec<Arc<str>> = headers.iter().flatten().cloned().collect();
            if f(ReadEvent::Header(&names)).is_break() {
                return Ok(());
            }
        }
        if cur_row != Some(row) {
            if let Some(r) = cur_row
                && emit_xlsx_row(f, r, &mut fields, &mut bad).is_break()
            {
                return Ok(());
            }
            cur_row = Some(row);
        }
        match text {
            Ok(Some(t)) if !t.trim().is_empty() => {
                match headers.get(col).and_then(Option::as_ref) {
                    Some(h) => fields.push((h.clone(), t)),
                    None => {
                        bad.get_or_insert_with(|| {
                            format!("cell in column {} has no header", col + 1)
                        });
                    }
                }
            }
            Ok(_) => {}
            Err(reason) => {
                let name = headers
                    .get(col)
                    .and_then(Option::as_ref)
                    .map_or_else(|| format!("{}", col + 1), |h| h.to_string());
                bad.get_or_insert_with(|| format!("column {name}: {reason}"));
            }
        }
    }
    if !header_sent && header_row.is_some() {
        let names: Vec<Arc<str>> = headers.iter().flatten().cloned().collect();
        if f(ReadEvent::Header(&names)).is_break() {
            return Ok(());
        }
    }
    if let Some(r) = cur_row {
        let _ = emit_xlsx_row(f, r, &mut fields, &mut bad);
    }
    Ok(())
}

fn emit_xlsx_row(
    f: &mut dyn FnMut(ReadEvent<'_>) -> ControlFlow<()>,
    row: u32,
    fields: &mut Vec<(Arc<str>, String)>,
    bad: &mut Option<String>,
) -> ControlFlow<()> {
    let line = u64::from(row) + 1;
    let ev = match bad.take() {
        Some(reason) => {
            fields.clear();
            ReadEvent::Bad { line, reason }
        }
        None => ReadEvent::Row(RawRow {
            line,
            fields: std::mem::take(fields),
        }),
    };
    f(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn collect(
        bytes: &[u8],
        format: FileFormat,
        enc: TextEncoding,
    ) -> (Vec<String>, Vec<RawRow>, Vec<(u64, String)>) {
        let mut header = Vec::new();
        let mut rows = Vec::new();
        let mut bad = Vec::new();
        let opts = ReadOptions {
            encoding: enc,
            ..ReadOptions::default()
        };
        read_rows("t", Cursor::new(bytes.to_vec()), format, &opts, &mut |ev| {
            match ev {
                ReadEvent::Header(h) => header = h.iter().map(|x| x.to_string()).collect(),
                ReadEvent::Row(r) => rows.push(r),
                ReadEvent::Bad { line, reason } => bad.push((line, reason)),
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        (header, rows, bad)
    }

    #[test]
    fn csv_encodings_are_detected() {
        let text = "姓名,地址\n王小明,\"成都市,锦江区\"\n\n李丽,青羊区\n";
        let (h, rows, _) = collect(text.as_bytes(), FileFormat::Csv, TextEncoding::Auto);
        assert_eq!(h, ["姓名", "地址"]);
        assert_eq!(rows[0].get("地址"), Some("成都市,锦江区"));
        assert_eq!(rows[1].line, 4);
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(text.as_bytes());
        let (h, _, _) = collect(&bom, FileFormat::Csv, TextEncoding::Auto);
        assert_eq!(h[0], "姓名");
        let (gb, _, _) = encoding_rs::GB18030.encode(text);
        let (h, rows, _) = collect(&gb, FileFormat::Csv, TextEncoding::Auto);
        assert_eq!(h, ["姓名", "地址"]);
        assert_eq!(rows[1].get("姓名"), Some("李丽"));
        // UTF-16 with BOM is decoded too.
        let mut u16 = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            u16.extend_from_slice(&unit.to_le_bytes());
        }
        let (h, _, _) = collect(&u16, FileFormat::Csv, TextEncoding::Auto);
        assert_eq!(h, ["姓名", "地址"]);
    }

    #[test]
    fn csv_bad_rows_are_reported_with_lines() {
        let text = b"a,b\n1,2\n1,2,3\n1,\xff\n4,5\n";
        let (_, rows, bad) = collect(text, FileFormat::Csv, TextEncoding::Utf8);
        assert_eq!(rows.len(), 2);
        assert_eq!(bad[0], (3, "row has 3 fields, header has 2".to_owned()));
        assert_eq!(bad[1].0, 4);
        assert!(bad[1].1.starts_with("column b: bytes are not valid UTF-8"));
        assert_eq!(rows[1].line, 5);
    }

    #[test]
    fn json_array_elements_stream_across_buffer_boundaries() {
        // Larger than one 64 KiB buffer so that elements straddle reads.
        let mut s = String::from("[");
        for i in 0..3000 {
            if i > 0 {
                s.push_str(",\n");
            }
            s.push_str(&format!("{{\"k\":\"v{i} \\\" ]}}\",\"n\":{i},\"z\":null}}"));
        }
        s.push(']');
        let (_, rows, bad) = collect(s.as_bytes(), FileFormat::JsonArray, TextEncoding::Auto);
        assert!(bad.is_empty());
        assert_eq!(rows.len(), 3000);
        assert_eq!(rows[2999].get("k"), Some("v2999 \" ]}"));
        assert_eq!(rows[2999].get("n"), Some("2999"));
        assert_eq!(rows[2999].get("z"), None);
        assert_eq!(rows[2999].line, 3000);
    }

    #[test]
    fn formats_from_file_names() {
        assert_eq!(FileFormat::from_file_name("a.CSV"), Some(FileFormat::Csv));
        assert_eq!(
            FileFormat::from_file_name("a.jsonl"),
            Some(FileFormat::Ndjson)
        );
        assert_eq!(
            FileFormat::from_file_name("a.json"),
            Some(FileFormat::JsonArray)
        );
        assert_eq!(FileFormat::from_file_name("a.xlsx"), Some(FileFormat::Xlsx));
        assert_eq!(FileFormat::from_file_name("a.xls"), None);
        assert_eq!(TextEncoding::parse("GBK"), Some(TextEncoding::Gb18030));
    }
}
