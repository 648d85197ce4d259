//! CSV text with a header line, read by column name, with errors that name the source, the row
//! and the column: the clusters CSV, the simulator's `grains.csv`.

use crate::error::{Error, Result};

/// The rows of a CSV text (blank lines skipped) and its header.
pub struct Table<'a> {
    name: &'a str,
    header: Vec<&'a str>,
    rows: Vec<(usize, Vec<&'a str>)>,
}

/// One row: its line number (1 = the header) and fields.
pub struct Row<'t, 'a> {
    table: &'t Table<'a>,
    line: usize,
    fields: &'t [&'a str],
}

impl<'a> Table<'a> {
    /// Splits `text`; `name` (a path) starts every error message.
    pub fn parse(text: &'a str, name: &'a str) -> Self {
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("").split(',').collect();
        let rows = lines
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 2, l.split(',').collect()))
            .collect();
        Table { name, header, rows }
    }

    fn error(&self, message: String) -> Error {
        Error::Shape(format!("{}: {message}", self.name))
    }

    /// The index of the column called `column`.
    pub fn column(&self, column: &str) -> Result<usize> {
        self.header
            .iter()
            .position(|h| *h == column)
            .ok_or_else(|| self.error(format!("no `{column}` column")))
    }

    /// The data rows in file order, blank lines skipped.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_, 'a>> {
        self.rows.iter().map(|(line, fields)| Row {
            table: self,
            line: *line,
            fields,
        })
    }
}

impl<'a> Row<'_, 'a> {
    /// The text of column `k`.
    pub fn text(&self, k: usize) -> Result<&'a str> {
        self.fields.get(k).copied().ok_or_else(|| {
            self.table
                .error(format!("line {} has no column {}", self.line, k + 1))
        })
    }

    /// Column `k` as a number.
    pub fn num(&self, k: usize) -> Result<f64> {
        let text = self.text(k)?;
        text.trim().parse().map_err(|_| {
            self.table.error(format!(
                "line {}: `{}` is not a number ({text:?})",
                self.line,
                self.table.header.get(k).unwrap_or(&"?")
            ))
        })
    }
}
