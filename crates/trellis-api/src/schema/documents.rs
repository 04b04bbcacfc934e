//! Parsed GraphQL documents, kept by their text.
//!
//! Clients send the same few documents again and again with different variables (a caseload page and
//! the next one). async-graphql parses each request's text afresh with a PEG parser; for a 50-row
//! caseload page that was 7 % of the server's instructions (callgrind, `docs/benchmarks.md`). Here a
//! document parsed once is reused: the request gets a copy of the parsed tree, and is then validated
//! and executed as before (validation depends on the variables, so it is not skipped).

use std::collections::HashMap;
use std::sync::Mutex;

use async_graphql::Request;
use async_graphql::parser::types::ExecutableDocument;

/// Documents kept at most; when full, the cache starts again empty.
const MOST_DOCUMENTS: usize = 256;
/// Longer documents are parsed every time, so the cache's memory stays bounded (256 × 8 KiB of text).
const LONGEST_DOCUMENT: usize = 8 * 1024;

/// Parsed documents by their exact text.
#[derive(Default)]
pub struct Documents {
    parsed: Mutex<HashMap<String, ExecutableDocument>>,
}

impl Documents {
    /// Gives `request` its parsed document: a copy of the one kept for its text, or parsed now (and kept,
    /// if it parses and is short enough). A document that does not parse is left for execution to
    /// explain, as before.
    pub fn parse(&self, request: &mut Request) {
        if request.query.len() > LONGEST_DOCUMENT {
            return;
        }
        let kept = self.lock().get(&request.query).cloned();
        if let Some(document) = kept {
            request.set_parsed_query(document);
            return;
        }
        let Ok(document) = request.parsed_query() else { return };
        let document = document.clone();
        let mut parsed = self.lock();
        if parsed.len() >= MOST_DOCUMENTS {
            parsed.clear();
        }
        parsed.insert(request.query.clone(), document);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ExecutableDocument>> {
        self.parsed.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_sent_again_gets_the_same_parse_as_the_first_time() {
        let documents = Documents::default();
        let text = "query($after: String) { referrals(first: 50, after: $after) { nodes { id } } }";
        let mut first = Request::new(text);
        documents.parse(&mut first);
        let mut again = Request::new(text);
        documents.parse(&mut again);
        assert_eq!(documents.lock().len(), 1);
        let first = format!("{:?}", first.parsed_query().map_err(|e| e.message.clone()));
        let again = format!("{:?}", again.parsed_query().map_err(|e| e.message.clone()));
        assert_eq!(first, again);
    }

    #[test]
    fn each_text_gets_its_own_document_however_often_both_are_sent() {
        let documents = Documents::default();
        let texts = ["query { me { id } }", "query { me { name } }"];
        for _ in 0..3 {
            for text in texts {
                let mut request = Request::new(text);
                documents.parse(&mut request);
                let mut fresh = Request::new(text);
                let fresh = format!("{:?}", fresh.parsed_query().map_err(|e| e.message.clone()));
                assert_eq!(format!("{:?}", request.parsed_query().map_err(|e| e.message.clone())), fresh);
            }
        }
        assert_eq!(documents.lock().len(), 2);
    }

    #[test]
    fn a_document_that_does_not_parse_is_not_kept_and_still_fails_to_parse() {
        let documents = Documents::default();
        let mut request = Request::new("query { referrals(");
        documents.parse(&mut request);
        assert!(documents.lock().is_empty());
        assert!(request.parsed_query().is_err());
    }

    #[test]
    fn a_long_document_is_parsed_but_not_kept() {
        let documents = Documents::default();
        let text = format!("query {{ me {{ id }} }} # {}", "x".repeat(LONGEST_DOCUMENT));
        let mut request = Request::new(text);
        documents.parse(&mut request);
        assert!(documents.lock().is_empty());
        assert!(request.parsed_query().is_ok());
    }

    #[test]
    fn the_cache_never_holds_more_than_its_limit() {
        let documents = Documents::default();
        for i in 0..(MOST_DOCUMENTS + 10) {
            documents.parse(&mut Request::new(format!("query {{ me {{ id }} }} # {i}")));
        }
        assert!(documents.lock().len() <= MOST_DOCUMENTS);
        assert_eq!(documents.lock().len(), 10);
    }
}
