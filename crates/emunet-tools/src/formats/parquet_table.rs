//! A cluster table as a Parquet file (one row group, snappy-compressed), written with the
//! `parquet` crate's column writer: INT32 for counts and indices, DOUBLE for positions and
//! moments, UTF-8 strings for the frame's name and view.

use super::{FrameClusters, Values, columns};
use emunet::error::{Error, Result};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::path::Path;
use std::sync::Arc;

/// The Parquet schema of [`super::COLUMNS`].
pub fn schema() -> String {
    let fields: Vec<String> = columns(&[])
        .iter()
        .map(|(name, values)| match values {
            Values::Int(_) => format!("REQUIRED INT32 {name};"),
            Values::Float(_) => format!("REQUIRED DOUBLE {name};"),
            Values::Text(_) => format!("REQUIRED BYTE_ARRAY {name} (UTF8);"),
        })
        .collect();
    format!("message clusters {{ {} }}", fields.join(" "))
}

/// The table's bytes.
pub fn to_bytes(
    frames: &[FrameClusters],
) -> std::result::Result<Vec<u8>, parquet::errors::ParquetError> {
    let schema = Arc::new(parse_message_type(&schema())?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("emunet {}", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props)?;
    let cols = columns(frames);
    let mut group = writer.next_row_group()?;
    for (_, values) in &cols {
        let Some(mut col) = group.next_column()? else {
            break;
        };
        match values {
            Values::Int(v) => {
                col.typed::<Int32Type>().write_batch(v, None, None)?;
            }
            Values::Float(v) => {
                col.typed::<DoubleType>().write_batch(v, None, None)?;
            }
            Values::Text(v) => {
                let bytes: Vec<ByteArray> = v.iter().map(|s| ByteArray::from(s.as_str())).collect();
                col.typed::<ByteArrayType>()
                    .write_batch(&bytes, None, None)?;
            }
        }
        col.close()?;
    }
    group.close()?;
    writer.into_inner()
}

/// Writes the table to `path` atomically.
pub fn write(path: &Path, frames: &[FrameClusters]) -> Result<()> {
    let bytes = to_bytes(frames).map_err(|e| Error::Table {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    emunet::model::write_atomic(path, &bytes)
}
