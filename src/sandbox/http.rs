//! The sandbox's own request/response types: what every cloud front end sees, independent of
//! the HTTP server crate underneath.

/// One HTTP request, fully read.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Upper-case method: GET, POST, PUT, PATCH, DELETE.
    pub method: String,
    /// The path, percent-decoded segments left as sent (no query string).
    pub path: String,
    /// Query parameters, percent-decoded, in the order sent.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `http://127.0.0.1:PORT` — what absolute URLs in responses (Azure-AsyncOperation,
    /// Location, GCP selfLink) must start with.
    pub base_url: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Form fields of an `application/x-www-form-urlencoded` body (the EC2 Query protocol).
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("content-type".to_string(), content_type.to_string())],
            body: body.into(),
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::new(
            status,
            "application/json; charset=utf-8",
            serde_json::to_vec(value).unwrap_or_default(),
        )
    }

    pub fn xml(status: u16, body: String) -> Response {
        Response::new(status, "text/xml;charset=UTF-8", body)
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}
