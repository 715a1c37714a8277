//! Budget data (DESIGN.md §6): the datasets of the two systems, an in-memory engine that applies the
//! caller's scope to every row it reads, the import of CSV and Parquet files, and a synthetic generator.

pub mod engine;
pub mod files;
pub mod generate;
pub mod import;
pub mod layout;
pub mod model;
pub mod names;

pub use engine::{BudgetStore, BudgetTables, DataAnswer, DataQuery, DataScope, SortKey};
pub use model::{DATASETS, DatasetSpec, Dim};

#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("{file}, line {line}, column {column}: {rule}")]
    Row {
        file: String,
        line: u64,
        column: String,
        rule: String,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("engine: {0}")]
    Engine(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl From<arrow_schema::ArrowError> for BudgetError {
    fn from(e: arrow_schema::ArrowError) -> Self {
        BudgetError::Engine(e.to_string())
    }
}

impl From<parquet::errors::ParquetError> for BudgetError {
    fn from(e: parquet::errors::ParquetError) -> Self {
        BudgetError::Engine(e.to_string())
    }
}

#[cfg(test)]
mod tests;
