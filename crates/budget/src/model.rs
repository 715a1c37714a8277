//! The budget datasets of the two systems (Order 270 §4), their dimensions and measures.
//! Codes are stored as integers (KATO, administrator, program, …) so that the scope filter and the
//! aggregations run on fixed-width columns; they are formatted back with their classification width.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use qoljetim_domain::System;
use serde::Serialize;

/// A dimension column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dim {
    FiscalYear,
    Month,
    BudgetLevel,
    /// The budget: its KATO territory (0 for the republican budget).
    Budget,
    Region,
    District,
    Administrator,
    Program,
    Subprogram,
    Specifics,
    FunctionalGroup,
    RevenueCode,
    Indicator,
}

impl Dim {
    pub const ALL: [Dim; 13] = [
        Dim::FiscalYear,
        Dim::Month,
        Dim::BudgetLevel,
        Dim::Budget,
        Dim::Region,
        Dim::District,
        Dim::Administrator,
        Dim::Program,
        Dim::Subprogram,
        Dim::Specifics,
        Dim::FunctionalGroup,
        Dim::RevenueCode,
        Dim::Indicator,
    ];

    /// The name in the API (`group_by`, filters) and in CSV headers.
    pub fn name(self) -> &'static str {
        match self {
            Dim::FiscalYear => "fiscal_year",
            Dim::Month => "month",
            Dim::BudgetLevel => "budget_level",
            Dim::Budget => "budget",
            Dim::Region => "region",
            Dim::District => "district",
            Dim::Administrator => "administrator",
            Dim::Program => "program",
            Dim::Subprogram => "subprogram",
            Dim::Specifics => "specifics",
            Dim::FunctionalGroup => "functional_group",
            Dim::RevenueCode => "revenue_code",
            Dim::Indicator => "indicator",
        }
    }

    pub fn parse(s: &str) -> Option<Dim> {
        Dim::ALL.into_iter().find(|d| d.name() == s)
    }

    pub fn data_type(self) -> DataType {
        match self {
            Dim::FiscalYear => DataType::Int16,
            Dim::Month | Dim::BudgetLevel | Dim::FunctionalGroup => DataType::Int8,
            Dim::Budget | Dim::Region | Dim::District => DataType::Int64,
            Dim::Administrator | Dim::Program | Dim::Subprogram | Dim::Specifics => DataType::Int16,
            Dim::RevenueCode | Dim::Indicator => DataType::Int32,
        }
    }

    /// Digits of the code as printed (KATO 9, administrator 3, functional group 2, …); 0 = plain number.
    pub fn width(self) -> usize {
        match self {
            Dim::Budget | Dim::Region | Dim::District => 9,
            Dim::Administrator | Dim::Program | Dim::Subprogram | Dim::Specifics => 3,
            Dim::FunctionalGroup => 2,
            Dim::RevenueCode => 6,
            _ => 0,
        }
    }

    /// Region and district are derived from the budget's KATO at load time, never imported.
    pub fn derived(self) -> bool {
        matches!(self, Dim::Region | Dim::District)
    }
}

pub const LEVELS: [&str; 4] = ["republican", "regional", "district", "rural"];

pub fn level_code(name: &str) -> Option<i8> {
    LEVELS.iter().position(|l| *l == name).map(|p| p as i8)
}

/// One dataset of one system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetSpec {
    pub system: System,
    pub name: &'static str,
    pub dims: &'static [Dim],
    pub measures: &'static [&'static str],
}

const EXPENDITURE_DIMS: &[Dim] = &[
    Dim::FiscalYear,
    Dim::Month,
    Dim::BudgetLevel,
    Dim::Budget,
    Dim::Region,
    Dim::District,
    Dim::FunctionalGroup,
    Dim::Administrator,
    Dim::Program,
    Dim::Subprogram,
    Dim::Specifics,
];

pub const DATASETS: [DatasetSpec; 4] = [
    DatasetSpec {
        system: System::AnalyticalCentral,
        name: "expenditure",
        dims: EXPENDITURE_DIMS,
        measures: &[
            "approved_plan",
            "refined_plan",
            "corrected_plan",
            "financing_plan",
            "plan_to_date_payments",
            "plan_to_date_obligations",
            "registered_obligations",
            "paid",
            "unpaid",
        ],
    },
    DatasetSpec {
        system: System::AnalyticalCentral,
        name: "revenue",
        dims: &[
            Dim::FiscalYear,
            Dim::Month,
            Dim::BudgetLevel,
            Dim::Budget,
            Dim::Region,
            Dim::District,
            Dim::RevenueCode,
        ],
        measures: &["plan", "executed"],
    },
    DatasetSpec {
        system: System::StatePlanning,
        name: "budget_applications",
        dims: &[
            Dim::FiscalYear,
            Dim::BudgetLevel,
            Dim::Budget,
            Dim::Region,
            Dim::District,
            Dim::FunctionalGroup,
            Dim::Administrator,
            Dim::Program,
            Dim::Subprogram,
            Dim::Specifics,
        ],
        measures: &["year_1", "year_2", "year_3"],
    },
    DatasetSpec {
        system: System::StatePlanning,
        name: "indicators",
        dims: &[
            Dim::FiscalYear,
            Dim::BudgetLevel,
            Dim::Budget,
            Dim::Region,
            Dim::District,
            Dim::Administrator,
            Dim::Program,
            Dim::Indicator,
        ],
        measures: &["plan_value", "actual_value"],
    },
];

impl DatasetSpec {
    pub fn find(system: System, name: &str) -> Option<&'static DatasetSpec> {
        DATASETS
            .iter()
            .find(|d| d.system == system && d.name == name)
    }

    pub fn has(&self, d: Dim) -> bool {
        self.dims.contains(&d)
    }

    /// The Arrow schema: dimensions, then measures (Int64 tiyn, or units for indicators).
    pub fn schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .dims
            .iter()
            .map(|d| Field::new(d.name(), d.data_type(), false))
            .collect();
        fields.extend(
            self.measures
                .iter()
                .map(|m| Field::new(*m, DataType::Int64, false)),
        );
        Arc::new(Schema::new(fields))
    }

    /// Columns of an import file: the dimensions that are not derived, `version`, the measures.
    pub fn import_columns(&self) -> Vec<&'static str> {
        let mut cols: Vec<&'static str> = vec!["version"];
        cols.extend(self.dims.iter().filter(|d| !d.derived()).map(|d| d.name()));
        cols.extend(self.measures.iter().copied());
        cols
    }
}

/// Region and district of a KATO code (0 when the budget is above that level).
pub fn region_of(kato: i64) -> i64 {
    kato / 10_000_000 * 10_000_000
}

pub fn district_of(kato: i64, level: i8) -> i64 {
    if level >= 2 {
        kato / 100_000 * 100_000
    } else {
        0
    }
}

/// Formats a code with its classification width.
pub fn format_code(d: Dim, v: i64) -> String {
    match d {
        Dim::BudgetLevel => LEVELS
            .get(v as usize)
            .map(|s| (*s).to_owned())
            .unwrap_or_else(|| v.to_string()),
        _ if d.width() > 0 => format!("{v:0width$}", width = d.width()),
        _ => v.to_string(),
    }
}
