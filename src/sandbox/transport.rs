//! Failures below any operation — a body too large, a URL too long, a body that cannot be
//! read, a path or method no front end serves, a handler that panicked — answered in the
//! format of the cloud whose front end serves the path, as that cloud's front door does.
//!
//! Which cloud a path belongs to is decided by prefix alone (`/compute/v1/` Google,
//! `/subscriptions/` ARM, everything else the EC2 endpoint, whose only path is `/`), so these
//! answers need neither the body nor the world lock.

use crate::cloud::Cloud;
use crate::sandbox::http::Response;
use crate::sandbox::{aws, azure, gcp};
use std::sync::atomic::{AtomicU64, Ordering};

/// The largest request body the sandbox reads (the default of the HTTP stack underneath, and
/// above any request an SDK sends for these APIs).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The longest request target (path and query) the sandbox reads. Longer ones are answered
/// 414 before any parsing (by `server.rs`, or by [`super::line_guard`] before the HTTP parser
/// when the whole request line is longer than it would take).
pub const MAX_URI_BYTES: usize = 16 * 1024;

/// What went wrong before (or around) an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 413: the body is larger than [`MAX_BODY_BYTES`].
    BodyTooLarge,
    /// 414: the request target is longer than [`MAX_URI_BYTES`].
    UriTooLong,
    /// 400: the body could not be read (truncated, bad chunked encoding).
    BadBody(String),
    /// 404: no front end serves this method on this path.
    NotServed { method: String, path: String },
    /// 500: the handler panicked.
    Internal,
}

/// The cloud whose front end serves `path` (the EC2 endpoint for every path that is not
/// Google's or ARM's: it is the host's root).
pub fn cloud_of(path: &str) -> Cloud {
    if path.starts_with("/compute/") {
        Cloud::Gcp
    } else if path.starts_with("/subscriptions/") || path.starts_with("/providers/") {
        Cloud::Azure
    } else {
        Cloud::Aws
    }
}

/// `failure` in the format of the cloud serving `path`.
pub fn answer(path: &str, failure: &Failure) -> Response {
    let status = match failure {
        Failure::BodyTooLarge => 413,
        Failure::UriTooLong => 414,
        Failure::BadBody(_) => 400,
        Failure::NotServed { .. } => 404,
        Failure::Internal => 500,
    };
    let message = match failure {
        Failure::BodyTooLarge => {
            format!("The request body is larger than the limit of {MAX_BODY_BYTES} bytes.")
        }
        Failure::UriTooLong => {
            format!("The request URL is longer than the limit of {MAX_URI_BYTES} bytes.")
        }
        Failure::BadBody(why) => format!("The request body could not be read: {why}"),
        Failure::NotServed { method, path } => {
            let shown: String = path.chars().take(200).collect();
            format!("The requested method {method} is not served for the path {shown}.")
        }
        Failure::Internal => "An internal error has occurred.".to_string(),
    };
    match cloud_of(path) {
        Cloud::Aws => {
            let code = match failure {
                Failure::BodyTooLarge => "RequestEntityTooLarge",
                Failure::UriTooLong => "RequestURITooLong",
                Failure::BadBody(_) => "MalformedQueryString",
                Failure::NotServed { .. } => "InvalidAction",
                Failure::Internal => "InternalError",
            };
            static IDS: AtomicU64 = AtomicU64::new(0);
            let id = aws::wire::request_id((1 << 44) | IDS.fetch_add(1, Ordering::Relaxed));
            let err = aws::wire::ApiError {
                status,
                code: code.to_string(),
                message,
            };
            aws::wire::error(&err, &id)
        }
        Cloud::Gcp => {
            let (status_name, reason) = match failure {
                Failure::BodyTooLarge | Failure::UriTooLong => ("INVALID_ARGUMENT", "badRequest"),
                Failure::BadBody(_) => ("INVALID_ARGUMENT", "parseError"),
                Failure::NotServed { .. } => ("NOT_FOUND", "notFound"),
                Failure::Internal => ("INTERNAL", "backendError"),
            };
            gcp::wire::error(status, status_name, reason, message)
        }
        Cloud::Azure => {
            let code = match failure {
                Failure::BodyTooLarge => "RequestEntityTooLarge",
                Failure::UriTooLong => "RequestUriTooLong",
                Failure::BadBody(_) => "InvalidRequestContent",
                Failure::NotServed { .. } => "NotFound",
                Failure::Internal => "InternalServerError",
            };
            azure::arm::error(status, code, message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_answers_in_its_own_format() {
        let aws = answer("/", &Failure::BodyTooLarge);
        assert_eq!(aws.status, 413);
        let body = String::from_utf8(aws.body).unwrap();
        assert!(body.contains("<Response><Errors><Error><Code>RequestEntityTooLarge</Code>"));
        let g = answer(
            "/compute/v1/projects/p/global/networks",
            &Failure::UriTooLong,
        );
        assert_eq!(g.status, 414);
        let v: serde_json::Value = serde_json::from_slice(&g.body).unwrap();
        assert_eq!(v["error"]["code"], 414);
        assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
        let a = answer(
            "/subscriptions/s/x",
            &Failure::NotServed {
                method: "TRACE".into(),
                path: "/subscriptions/s/x".into(),
            },
        );
        assert_eq!(a.status, 404);
        let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["error"]["code"], "NotFound");
        assert!(v["error"]["message"].as_str().unwrap().contains("TRACE"));
    }
}
