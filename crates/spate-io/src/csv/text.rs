//! [`CsvTextSource`]: selected columns of a CSV file as text, for string features and labels.

use super::{CsvBuilder, CsvRowParser, CsvSource};
use crate::error::IoError;
use crate::lines::SkipReason;
use spate_core::BatchTime;
use spate_core::stream::{Source, SourceBatch, SourceOffset};

impl CsvRowParser {
    /// Parses one line into the trimmed text of the selected columns, in record order.
    ///
    /// Only the shape is checked (field count, balanced quotes, UTF-8): values are not
    /// interpreted, so an empty field or `NA` comes back as it is.
    ///
    /// ```
    /// use spate_io::CsvRowParser;
    ///
    /// let mut parser = CsvRowParser::new("proto,bytes,label", Some(&["label", "proto"]), b',')?;
    /// assert_eq!(parser.parse_text(b"tcp, 181 ,normal."), Ok(vec!["normal.".to_string(), "tcp".into()]));
    /// # Ok::<(), spate_io::IoError>(())
    /// ```
    pub fn parse_text(&mut self, line: &[u8]) -> Result<Vec<String>, SkipReason> {
        if memchr::memchr_iter(b'"', line).count() % 2 == 1 {
            return Err(SkipReason::UnbalancedQuote);
        }
        let found = self.split(line);
        if found != self.header.len() {
            return Err(SkipReason::FieldCount {
                expected: self.header.len(),
                found,
            });
        }
        let mut record = Vec::with_capacity(self.selected.len());
        for k in 0..self.selected.len() {
            let column = self.selected[k];
            let text =
                std::str::from_utf8(self.field(column)).map_err(|_| SkipReason::NotNumeric {
                    column: self.header[column].clone(),
                })?;
            record.push(text.trim().to_string());
        }
        Ok(record)
    }
}

/// Streams the rows of a CSV file with a header (plain or gzip) as the text of named
/// columns, `Vec<String>` per row: [`CsvSource`]'s reading, replay and bad-row rules, with
/// values left uninterpreted (string features, class labels).
///
/// ```
/// use spate_io::{CsvSource, Source};
/// use spate_core::BatchTime;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("kdd.csv");
/// std::fs::write(&path, "proto,bytes,label\ntcp,181,normal.\nudp,5\nicmp,1032,smurf.\n")?;
/// let mut source = CsvSource::options(&path).columns(&["proto", "label"]).build_text()?;
/// let batch = source.next_batch(BatchTime(1000), None)?;
/// assert_eq!(batch.records, [vec!["tcp", "normal."], vec!["icmp", "smurf."]]);
/// assert_eq!(batch.skipped, 1); // the row with two fields
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CsvTextSource {
    inner: CsvSource,
}

impl CsvBuilder {
    /// Builds a source of the named columns as text.
    ///
    /// # Errors
    /// As [`build`](Self::build); [`IoError::InvalidParameter`] when no column is named.
    pub fn build_text(self) -> Result<CsvTextSource, IoError> {
        if self.columns.is_none() {
            return Err(IoError::invalid(
                "columns",
                "none",
                "name the columns to read as text",
            ));
        }
        Ok(CsvTextSource {
            inner: self.build()?,
        })
    }
}

impl CsvTextSource {
    /// The columns that make a record, in record order.
    pub fn column_names(&self) -> Vec<String> {
        self.inner.column_names()
    }
}

impl Source for CsvTextSource {
    type Item = Vec<String>;

    fn name(&self) -> String {
        self.inner.replay.name().to_string()
    }

    fn next_batch(
        &mut self,
        _time: BatchTime,
        max_records: Option<u64>,
    ) -> spate_core::Result<SourceBatch<Vec<String>>> {
        let parser = &mut self.inner.parser;
        Ok(self
            .inner
            .replay
            .next_batch(max_records, |line| parser.parse_text(line))?)
    }

    fn is_exhausted(&self) -> bool {
        self.inner.replay.is_exhausted()
    }

    fn offset(&self) -> Option<SourceOffset> {
        self.inner.replay.offset()
    }

    fn seek(&mut self, offset: &SourceOffset) -> spate_core::Result<()> {
        self.inner.replay.seek(offset)
    }
}
