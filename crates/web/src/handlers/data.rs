//! Budget data reads (Order 270 §4–§6): the scoped query and the dimensions' codes. The answer leaves
//! as JSON or as a CSV file, each with the §15 notice in the caller's language.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use qoljetim_service::{DataRequest, DimensionRequest, DimensionValue, Output};

use crate::AppState;
use crate::auth::DataReader;
use crate::export::{csv_answer, json_answer};
use crate::i18n::Lang;
use crate::problem::ApiResult;

#[utoipa::path(get, path = "/api/v1/data/{system}/{dataset}",
    params(("system" = String, Path, description = "analytical_central | state_planning"),
           ("dataset" = String, Path, description = "expenditure, revenue, budget_applications, indicators"),
           ("fiscal_year" = i16, Query), ("group_by" = Option<String>, Query), ("measures" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("limit" = Option<usize>, Query), ("offset" = Option<usize>, Query),
           ("format" = Option<String>, Query, description = "json | csv"),
           ("sep" = Option<String>, Query, description = "CSV separator: comma | semicolon | tab (default by language)")),
    responses((status = 200, body = crate::export::DataAnswerBody, description = "JSON, or CSV with leading # lines (Order 270 §15) when format=csv"),
              (status = 403, description = "grant-inactive, data-out-of-scope"), (status = 503, description = "budget-data-unavailable")))]
pub async fn query(
    State(st): State<AppState>,
    reader: DataReader,
    lang: Lang,
    Path((system, dataset)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let request = DataRequest {
        system,
        dataset,
        params,
        language: lang.code(),
    };
    let answer = st.query_data(reader.reader(), request).await?;
    match answer.output {
        Output::Csv { separator } => csv_answer(&answer, lang, separator),
        Output::Json => Ok(Json(json_answer(&answer, lang)).into_response()),
    }
}

/// Codes of a dimension with their names in the caller's language.
#[utoipa::path(get, path = "/api/v1/data/{system}/dimensions/{dim}",
    params(("system" = String, Path), ("dim" = String, Path)),
    responses((status = 200, body = [DimensionValue])))]
pub async fn dimension(
    State(st): State<AppState>,
    reader: DataReader,
    lang: Lang,
    Path((system, dimension)): Path<(String, String)>,
) -> ApiResult<Json<Vec<DimensionValue>>> {
    let request = DimensionRequest {
        system,
        dimension,
        language: lang.code(),
    };
    Ok(Json(st.dimension(reader.reader(), request).await?))
}
