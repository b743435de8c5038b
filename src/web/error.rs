//! One error type at the HTTP edge: maps to a status code, logs server errors with their whole
//! cause chain, and shows clients nothing of the internals.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    /// A form without a valid CSRF token.
    #[error("forbidden")]
    Forbidden,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

/// What an error said, kept on its response: [`super::pages::error_pages`] shows it to a
/// signed-in owner's browser as a page of the admin.
#[derive(Debug, Clone)]
pub struct Said(pub String);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, said) = match self {
            AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized".to_owned()),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not found".to_owned()),
            AppError::Forbidden => (StatusCode::FORBIDDEN, "this form has expired; reload the page and try again".to_owned()),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            AppError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong on our side; please try again".to_owned())
            }
        };
        let mut r = (status, said.clone()).into_response();
        r.extensions_mut().insert(Said(said));
        r
    }
}
