//! OCPI 2.2.1 transport: the response envelope, status codes, the unique message id and routing
//! headers, and pagination (OCPI 2.2.1 Transport and format; Status codes).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::port::{Partner, StoreError};
use crate::Bridge;

/// `X-Request-ID` (Transport and format: Unique message IDs).
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `X-Correlation-ID` (Transport and format: Unique message IDs).
pub const X_CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");
/// `X-Total-Count` (Transport and format: Paginated Response).
pub const X_TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");
/// `X-Limit` (Transport and format: Paginated Response).
pub const X_LIMIT: HeaderName = HeaderName::from_static("x-limit");
/// `OCPI-from-country-code` (Transport and format: Message Routing Headers).
pub const FROM_COUNTRY_CODE: HeaderName = HeaderName::from_static("ocpi-from-country-code");
/// `OCPI-from-party-id`.
pub const FROM_PARTY_ID: HeaderName = HeaderName::from_static("ocpi-from-party-id");
/// `OCPI-to-country-code`.
pub const TO_COUNTRY_CODE: HeaderName = HeaderName::from_static("ocpi-to-country-code");
/// `OCPI-to-party-id`.
pub const TO_PARTY_ID: HeaderName = HeaderName::from_static("ocpi-to-party-id");

/// The OCPI status codes of 2.2.1 that a CPO platform uses (Status codes; the 4xxx hub codes are
/// not ours to send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcpiStatus {
    /// 1000: generic success.
    Success,
    /// 2000: generic client error.
    ClientError,
    /// 2001: invalid or missing parameters.
    InvalidParameters,
    /// 2002: not enough information.
    NotEnoughInformation,
    /// 2003: unknown location.
    UnknownLocation,
    /// 2004: unknown token.
    UnknownToken,
    /// 3000: generic server error.
    ServerError,
    /// 3001: unable to use the client's API.
    UnableToUseClientApi,
    /// 3002: unsupported version.
    UnsupportedVersion,
    /// 3003: no matching endpoints or expected endpoints missing.
    NoMatchingEndpoints,
}

impl OcpiStatus {
    /// The four-digit code.
    pub fn code(self) -> u16 {
        match self {
            OcpiStatus::Success => 1000,
            OcpiStatus::ClientError => 2000,
            OcpiStatus::InvalidParameters => 2001,
            OcpiStatus::NotEnoughInformation => 2002,
            OcpiStatus::UnknownLocation => 2003,
            OcpiStatus::UnknownToken => 2004,
            OcpiStatus::ServerError => 3000,
            OcpiStatus::UnableToUseClientApi => 3001,
            OcpiStatus::UnsupportedVersion => 3002,
            OcpiStatus::NoMatchingEndpoints => 3003,
        }
    }

    /// The status for a code a peer sent, when it is one of ours.
    pub fn from_code(code: u16) -> Option<OcpiStatus> {
        [
            OcpiStatus::Success,
            OcpiStatus::ClientError,
            OcpiStatus::InvalidParameters,
            OcpiStatus::NotEnoughInformation,
            OcpiStatus::UnknownLocation,
            OcpiStatus::UnknownToken,
            OcpiStatus::ServerError,
            OcpiStatus::UnableToUseClientApi,
            OcpiStatus::UnsupportedVersion,
            OcpiStatus::NoMatchingEndpoints,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// The HTTP status that goes with it when nothing more specific applies. Status codes: a
    /// request that reached the OCPI layer gets no HTTP error, so the 2xxx content errors and
    /// the 3001-3003 partner errors travel with HTTP 200; only an internal failure (3000) is an
    /// HTTP 500. Transport failures (bad JSON 400, unknown token 401, unknown resource 404,
    /// credentials 405) set their HTTP status explicitly through [`OcpiError::with_http`].
    pub fn http_status(self) -> StatusCode {
        match self {
            OcpiStatus::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::OK,
        }
    }
}

/// The response format every OCPI answer uses (Transport and format: Response format).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The payload; absent on most errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
    /// The OCPI status code.
    pub status_code: u16,
    /// A message that may help debugging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// When the message was generated.
    pub timestamp: String,
}

/// An OCPI DateTime: RFC 3339, UTC, `Z` (Types: DateTime).
pub fn ocpi_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl<T> Envelope<T> {
    /// A 1000 answer carrying `data`.
    pub fn success(data: T) -> Self {
        Envelope {
            data: Some(data),
            status_code: OcpiStatus::Success.code(),
            status_message: Some("Success".into()),
            timestamp: ocpi_time(Utc::now()),
        }
    }
}

/// A successful OCPI answer: the envelope with HTTP 200 (or another 2xx) and extra headers.
#[derive(Debug)]
pub struct OcpiResponse {
    http: StatusCode,
    headers: HeaderMap,
    body: Envelope<Value>,
}

impl OcpiResponse {
    /// A 1000 answer with HTTP 200.
    pub fn ok<T: Serialize>(data: T) -> Result<Self, OcpiError> {
        let value = serde_json::to_value(data).map_err(|e| OcpiError::internal(e.to_string()))?;
        Ok(OcpiResponse {
            http: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Envelope::success(value),
        })
    }

    /// Adds headers (pagination).
    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        self.headers.extend(headers);
        self
    }
}

impl IntoResponse for OcpiResponse {
    fn into_response(self) -> Response {
        (self.http, self.headers, Json(self.body)).into_response()
    }
}

/// An OCPI error answer: the envelope with its status code, a message, and the HTTP status.
#[derive(Debug, Clone, thiserror::Error)]
#[error("OCPI {} (HTTP {}): {message}", status.code(), http.as_u16())]
pub struct OcpiError {
    /// The OCPI status.
    pub status: OcpiStatus,
    /// The HTTP status.
    pub http: StatusCode,
    /// The status message.
    pub message: String,
}

impl OcpiError {
    /// An error with the status code's own HTTP status.
    pub fn new(status: OcpiStatus, message: impl Into<String>) -> Self {
        OcpiError {
            status,
            http: status.http_status(),
            message: message.into(),
        }
    }

    /// The same error with another HTTP status.
    pub fn with_http(mut self, http: StatusCode) -> Self {
        self.http = http;
        self
    }

    /// Transport and format: Authorization header: a missing or unknown token is HTTP 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(OcpiStatus::ClientError, message).with_http(StatusCode::UNAUTHORIZED)
    }

    /// 2001 with HTTP 400: the body is not valid JSON or not the object asked for (Status codes).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(OcpiStatus::InvalidParameters, message).with_http(StatusCode::BAD_REQUEST)
    }

    /// Credentials POST/PUT/DELETE in the wrong registration state: HTTP 405.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(OcpiStatus::ClientError, message).with_http(StatusCode::METHOD_NOT_ALLOWED)
    }

    /// 2000 with HTTP 404: no such resource.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(OcpiStatus::ClientError, message).with_http(StatusCode::NOT_FOUND)
    }

    /// 3000 with HTTP 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(OcpiStatus::ServerError, message)
    }
}

impl IntoResponse for OcpiError {
    fn into_response(self) -> Response {
        let body: Envelope<Value> = Envelope {
            data: None,
            status_code: self.status.code(),
            status_message: Some(self.message),
            timestamp: ocpi_time(Utc::now()),
        };
        (self.http, Json(body)).into_response()
    }
}

/// A failure of the core behind a port is ours, not the caller's: 3000 with HTTP 500. The
/// handlers that only pass such failures on use `?` with it instead of mapping each by hand.
impl From<StoreError> for OcpiError {
    fn from(e: StoreError) -> Self {
        OcpiError::internal(e.to_string())
    }
}

/// A fresh unique message id (Transport and format: Unique message IDs advises UUIDs).
pub fn new_message_id() -> HeaderValue {
    // A hyphenated UUID is always a valid header value.
    HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// Middleware: every response carries the request's `X-Request-ID` and `X-Correlation-ID`, and
/// fresh ones when the request had none (Transport and format: Unique message IDs).
pub async fn message_ids(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(X_REQUEST_ID)
        .cloned()
        .unwrap_or_else(new_message_id);
    let correlation_id = request
        .headers()
        .get(X_CORRELATION_ID)
        .cloned()
        .unwrap_or_else(new_message_id);
    let mut response = next.run(request).await;
    response.headers_mut().insert(X_REQUEST_ID, request_id);
    response
        .headers_mut()
        .insert(X_CORRELATION_ID, correlation_id);
    response
}

/// A party as the routing headers name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRef {
    /// ISO 3166 alpha-2 country code.
    pub country_code: String,
    /// Party id.
    pub party_id: String,
}

/// The `OCPI-from-*` / `OCPI-to-*` headers of a message (Transport and format: Message Routing
/// Headers). Between two parties without a hub they name the two ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    /// The sender, when both from-headers are present.
    pub from: Option<PartyRef>,
    /// The addressee, when both to-headers are present.
    pub to: Option<PartyRef>,
}

impl Routing {
    /// Reads the routing headers; a pair with a missing or non-ASCII half counts as absent.
    pub fn parse(headers: &HeaderMap) -> Routing {
        let pair = |country: &HeaderName, party: &HeaderName| {
            let get = |name: &HeaderName| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
            };
            Some(PartyRef {
                country_code: get(country)?,
                party_id: get(party)?,
            })
        };
        Routing {
            from: pair(&FROM_COUNTRY_CODE, &FROM_PARTY_ID),
            to: pair(&TO_COUNTRY_CODE, &TO_PARTY_ID),
        }
    }

    /// Writes the routing headers that are set.
    pub fn write(&self, headers: &mut HeaderMap) {
        let mut put = |name: HeaderName, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(name, v);
            }
        };
        if let Some(from) = &self.from {
            put(FROM_COUNTRY_CODE, &from.country_code);
            put(FROM_PARTY_ID, &from.party_id);
        }
        if let Some(to) = &self.to {
            put(TO_COUNTRY_CODE, &to.country_code);
            put(TO_PARTY_ID, &to.party_id);
        }
    }
}

/// The parameters of a paginated GET (Transport and format: Paginated Request).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageQuery {
    /// Objects to skip.
    pub offset: Option<u64>,
    /// Objects wanted; capped at the server's maximum.
    pub limit: Option<u64>,
    /// Only objects with `last_updated` at or after this time (inclusive).
    pub date_from: Option<DateTime<Utc>>,
    /// Only objects with `last_updated` before this time (exclusive).
    pub date_to: Option<DateTime<Utc>>,
}

impl Bridge {
    /// The start of every paginated GET of a Sender interface: the registered caller, then its
    /// page (2001 with HTTP 400 for an unreadable query), in that order, so every list answers
    /// a bad token and a bad query the same way.
    pub(crate) async fn paginated_get(
        &self,
        headers: &HeaderMap,
        query: Result<Query<PageQuery>, QueryRejection>,
    ) -> Result<(Partner, Page), OcpiError> {
        let partner = self.authenticate_registered(headers).await?;
        let page = Page::from_query(query, self.config().max_page_limit)?;
        Ok((partner, page))
    }
}

/// A paginated request as the module will run it: limits applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Objects to skip.
    pub offset: u64,
    /// Objects to return at most.
    pub limit: u64,
    /// The largest limit the server allows (reported in `X-Limit`).
    pub max_limit: u64,
    /// Inclusive lower bound on `last_updated`.
    pub date_from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on `last_updated`.
    pub date_to: Option<DateTime<Utc>>,
}

impl Page {
    /// Applies the server's maximum: no limit or a larger one means `max_limit`.
    pub fn new(query: PageQuery, max_limit: u64) -> Page {
        let max_limit = max_limit.max(1);
        Page {
            offset: query.offset.unwrap_or(0),
            limit: query.limit.unwrap_or(max_limit).clamp(1, max_limit),
            max_limit,
            date_from: query.date_from,
            date_to: query.date_to,
        }
    }

    /// Whether an object last updated at `t` is in the requested window: `date_from`
    /// inclusive, `date_to` exclusive, so consecutive windows never overlap.
    pub fn in_window(&self, t: DateTime<Utc>) -> bool {
        self.date_from.is_none_or(|from| t >= from) && self.date_to.is_none_or(|to| t < to)
    }

    /// The page a paginated GET asks for, or 2001 with HTTP 400 when its query does not parse
    /// (an unreadable `offset`, `limit` or date). Every paginated list handler starts here, so
    /// they all reject a bad query in the same protocol form.
    pub fn from_query(
        query: Result<Query<PageQuery>, QueryRejection>,
        max_limit: u64,
    ) -> Result<Page, OcpiError> {
        let Query(query) = query.map_err(|e| OcpiError::bad_request(e.body_text()))?;
        Ok(Page::new(query, max_limit))
    }

    /// The answer to a paginated GET: of `matching` (the objects in the window, in list order)
    /// those of this page, each rendered with `render`, in the envelope with the pagination
    /// headers for the list at `base_url`. Shared by the list handlers so that counting,
    /// skipping and the `Link` header cannot drift apart between modules.
    pub fn respond<T, R: Serialize>(
        &self,
        matching: impl IntoIterator<Item = T>,
        base_url: &str,
        render: impl FnMut(T) -> Result<R, OcpiError>,
    ) -> Result<OcpiResponse, OcpiError> {
        let matching: Vec<T> = matching.into_iter().collect();
        let total = matching.len() as u64;
        let data = matching
            .into_iter()
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(self.limit).unwrap_or(usize::MAX))
            .map(render)
            .collect::<Result<Vec<R>, OcpiError>>()?;
        Ok(OcpiResponse::ok(data)?.with_headers(self.headers(base_url, total)))
    }

    /// The response headers for a page of a list with `total` matching objects: `X-Total-Count`,
    /// `X-Limit` (the server's maximum, not the count returned), and a `Link` to the next page
    /// that keeps the filters, when this is not the last page. `base_url` is the absolute URL of
    /// the list, without a query.
    pub fn headers(&self, base_url: &str, total: u64) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(X_TOTAL_COUNT, HeaderValue::from(total));
        headers.insert(X_LIMIT, HeaderValue::from(self.max_limit));
        let next = self.offset.saturating_add(self.limit);
        if next < total {
            let mut link = url::form_urlencoded::Serializer::new(String::new());
            link.append_pair("offset", &next.to_string());
            link.append_pair("limit", &self.limit.to_string());
            if let Some(from) = self.date_from {
                // The next page must use the very same window: keep any fraction of a second.
                link.append_pair(
                    "date_from",
                    &from.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                );
            }
            if let Some(to) = self.date_to {
                link.append_pair("date_to", &to.to_rfc3339_opts(SecondsFormat::AutoSi, true));
            }
            let value = format!("<{base_url}?{}>; rel=\"next\"", link.finish());
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(axum::http::header::LINK, v);
            }
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn status_codes_carry_their_numbers_and_http_statuses() {
        assert_eq!(OcpiStatus::Success.code(), 1000);
        assert_eq!(OcpiStatus::UnknownToken.code(), 2004);
        assert_eq!(OcpiStatus::NoMatchingEndpoints.code(), 3003);
        assert_eq!(
            OcpiStatus::from_code(3001),
            Some(OcpiStatus::UnableToUseClientApi)
        );
        assert_eq!(OcpiStatus::from_code(4001), None);
        assert_eq!(OcpiStatus::InvalidParameters.http_status(), StatusCode::OK);
        assert_eq!(
            OcpiStatus::ServerError.http_status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(OcpiError::unauthorized("x").http, StatusCode::UNAUTHORIZED);
        assert_eq!(OcpiError::unauthorized("x").status.code(), 2000);
    }

    #[test]
    fn the_envelope_has_the_four_fields() {
        let v = serde_json::to_value(Envelope::success(serde_json::json!([1]))).unwrap();
        assert_eq!(v["status_code"], 1000);
        assert_eq!(v["data"], serde_json::json!([1]));
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(v["status_message"].is_string());
    }

    #[test]
    fn the_limit_is_capped_and_x_limit_reports_the_cap() {
        let page = Page::new(
            PageQuery {
                limit: Some(5000),
                ..Default::default()
            },
            100,
        );
        assert_eq!(page.limit, 100);
        let h = page.headers("https://cpo.example/ocpi/2.2.1/locations", 50);
        assert_eq!(h[X_LIMIT], "100");
        assert_eq!(h[X_TOTAL_COUNT], "50");
        assert!(
            h.get(axum::http::header::LINK).is_none(),
            "last page has no next link"
        );
    }

    #[test]
    fn the_next_link_keeps_the_filters() {
        let page = Page::new(
            PageQuery {
                offset: Some(100),
                limit: Some(50),
                date_from: Some(t("2016-01-01T00:00:00Z")),
                date_to: Some(t("2016-12-31T23:59:59Z")),
            },
            100,
        );
        let h = page.headers("https://cpo.example/ocpi/2.2.1/cdrs", 1000);
        assert_eq!(
            h[axum::http::header::LINK],
            "<https://cpo.example/ocpi/2.2.1/cdrs?offset=150&limit=50&date_from=2016-01-01T00%3A00%3A00Z&date_to=2016-12-31T23%3A59%3A59Z>; rel=\"next\""
        );
        assert_eq!(h[X_LIMIT], "100");

        // A fraction of a second in the filter survives into the next page's window.
        let page = Page::new(
            PageQuery {
                offset: None,
                limit: Some(1),
                date_from: Some(t("2016-01-01T00:00:00.250Z")),
                date_to: None,
            },
            100,
        );
        let h = page.headers("https://cpo.example/ocpi/2.2.1/tariffs", 5);
        assert!(
            h[axum::http::header::LINK]
                .to_str()
                .unwrap()
                .contains("date_from=2016-01-01T00%3A00%3A00.250Z"),
            "{:?}",
            h[axum::http::header::LINK]
        );
    }

    #[test]
    fn date_from_is_inclusive_and_date_to_exclusive() {
        let page = Page::new(
            PageQuery {
                date_from: Some(t("2020-01-01T00:00:00Z")),
                date_to: Some(t("2020-01-02T00:00:00Z")),
                ..Default::default()
            },
            10,
        );
        assert!(page.in_window(t("2020-01-01T00:00:00Z")));
        assert!(page.in_window(t("2020-01-01T23:59:59Z")));
        assert!(!page.in_window(t("2020-01-02T00:00:00Z")));
        assert!(!page.in_window(t("2019-12-31T23:59:59Z")));
    }

    #[test]
    fn routing_headers_round_trip() {
        let routing = Routing {
            from: Some(PartyRef {
                country_code: "NL".into(),
                party_id: "CPO".into(),
            }),
            to: Some(PartyRef {
                country_code: "DE".into(),
                party_id: "EMS".into(),
            }),
        };
        let mut headers = HeaderMap::new();
        routing.write(&mut headers);
        assert_eq!(headers["ocpi-from-country-code"], "NL");
        assert_eq!(Routing::parse(&headers), routing);
        headers.remove(TO_PARTY_ID);
        assert_eq!(Routing::parse(&headers).to, None);
    }
}
