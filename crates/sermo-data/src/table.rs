//! Tab- and comma-separated tables with a header line (nEMO's `data.tsv`, manifests), read so
//! that every later error can name its file and line.

use std::path::Path;

use crate::DataError;

/// A table: its column names (trimmed, lower case) and its rows with their 1-based line
/// numbers. Blank lines and lines starting with `#` are not rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    pub header: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    /// Reads `path`: tab-separated, or comma-separated when `csv` (RFC 4180 quoting: a field in
    /// double quotes may hold commas, `""` is a quote; one line per row). A UTF-8 byte-order
    /// mark and Windows line ends are accepted.
    pub fn read(path: &Path, csv: bool) -> Result<Self, DataError> {
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| DataError::Dataset(format!("{}: not UTF-8 text: {e}", path.display())))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, line)| (i + 1, line.trim_end_matches('\r')))
            .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'));
        let split = |n: usize, line: &str| -> Result<Vec<String>, DataError> {
            if csv {
                split_csv(line)
                    .map_err(|e| DataError::Dataset(format!("{}:{n}: {e}", path.display())))
            } else {
                Ok(line.split('\t').map(str::to_string).collect())
            }
        };
        let Some((n, first)) = lines.next() else {
            return Err(DataError::Dataset(format!(
                "{}: empty (a header line naming the columns comes first)",
                path.display()
            )));
        };
        let header = split(n, first)?
            .into_iter()
            .map(|h| h.trim().to_lowercase())
            .collect();
        let rows = lines
            .map(|(n, line)| split(n, line).map(|fields| (n, fields)))
            .collect::<Result<_, _>>()?;
        Ok(Table { header, rows })
    }

    /// The position of column `name`, or an error naming the file and the columns it has.
    pub fn column(&self, path: &Path, name: &str) -> Result<usize, DataError> {
        self.header.iter().position(|h| h == name).ok_or_else(|| {
            DataError::Dataset(format!(
                "{}: the header has no {name:?} column (it has: {})",
                path.display(),
                self.header.join(", ")
            ))
        })
    }
}

/// The fields of one CSV line.
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() && !was_quoted => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    fields.push(field);
    Ok(fields)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_may_be_quoted() {
        assert_eq!(split_csv("a,b,,c").unwrap(), ["a", "b", "", "c"]);
        assert_eq!(
            split_csv(r#""x, y",2,"say ""hi""""#).unwrap(),
            ["x, y", "2", r#"say "hi""#]
        );
        assert!(split_csv(r#""open,1"#).is_err());
    }

    #[test]
    fn tables_skip_blank_and_comment_lines_and_number_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.tsv");
        std::fs::write(&path, "\u{feff}Path\tLabel\r\n# note\n\na.wav\tsad\r\n").unwrap();
        let table = Table::read(&path, false).unwrap();
        assert_eq!(table.header, ["path", "label"]);
        assert_eq!(
            table.rows,
            [(4, vec!["a.wav".to_string(), "sad".to_string()])]
        );
        let err = table.column(&path, "speaker").unwrap_err().to_string();
        assert!(err.contains("t.tsv") && err.contains("speaker"), "{err}");
    }
}
