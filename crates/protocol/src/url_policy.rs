//! Which URLs a browser may be sent to. Pure string rules; host and network
//! policies that need DNS live with the code that does IO.

use crate::JobError;
use crate::error::ErrorKind;

/// Accepts `http:`/`https:` URLs and `about:blank`; refuses everything else
/// (`file:`, `chrome:`, `javascript:`, `data:`, other `about:` pages…) with a message
/// that says why and what to do instead.
pub fn check_navigation_url(raw: &str) -> Result<url::Url, JobError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(JobError::invalid_argument(
            "url is empty: pass an absolute http(s) URL",
        ));
    }
    let url = match url::Url::parse(trimmed) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(JobError::invalid_argument(format!(
                "'{trimmed}' is not an absolute URL: include the scheme, e.g. 'https://{trimmed}'"
            )));
        }
        Err(e) => {
            return Err(JobError::invalid_argument(format!(
                "'{trimmed}' is not a valid URL: {e}"
            )));
        }
    };
    match url.scheme() {
        "http" | "https" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(JobError::invalid_argument(format!(
                    "'{trimmed}' has no host"
                )));
            }
            Ok(url)
        }
        "about" if url.path() == "blank" => Ok(url),
        scheme => Err(JobError::new(
            ErrorKind::UrlRefused,
            format!(
                "refusing to navigate to '{}': the '{scheme}:' scheme is not allowed; \
                 only http and https URLs (and about:blank) can be opened",
                truncate_for_message(trimmed)
            ),
        )),
    }
}

fn truncate_for_message(s: &str) -> String {
    const MAX: usize = 200;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_https_are_allowed() {
        assert!(check_navigation_url("http://127.0.0.1:8080/a?b=c").is_ok());
        assert!(check_navigation_url(" https://example.com ").is_ok());
        assert!(check_navigation_url("about:blank").is_ok());
    }

    #[test]
    fn dangerous_schemes_are_refused_with_reason() {
        for url in [
            "file:///etc/passwd",
            "chrome://settings",
            "javascript:alert(1)",
            "data:text/html,<h1>x</h1>",
            "about:config",
            "view-source:http://example.com",
        ] {
            let err = check_navigation_url(url).unwrap_err();
            assert_eq!(err.kind, ErrorKind::UrlRefused, "{url}");
            assert!(
                err.message.contains("only http and https"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn scheme_less_url_gets_a_hint() {
        let err = check_navigation_url("example.com/page").unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert!(
            err.message.contains("https://example.com/page"),
            "{}",
            err.message
        );
    }

    #[test]
    fn long_urls_are_cut_in_messages() {
        let long = format!("file:///{}", "a".repeat(5000));
        let err = check_navigation_url(&long).unwrap_err();
        assert!(err.message.len() < 600);
    }
}
