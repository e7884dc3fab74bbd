//! Talking to members: a small HTTP/1.1 client (one connection per request, so every failure is
//! classified precisely) and the Ferric REST API on top of it.

mod api;
mod http;

pub use api::{classify, ApiClient, Outcome};
pub use http::{CallError, Connector, HttpClient, HttpResponse};
