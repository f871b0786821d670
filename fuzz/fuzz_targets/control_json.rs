//! One line on the control socket: any text is a request or a "bad request" answer, and a
//! parsed request survives the trip through JSON that `chorus ctl` makes. The same line
//! read as a response (the client's side) never panics either.

#![no_main]

use chorus::net::control::{parse_request, parse_response};
use chorus::proto::PartyId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The socket's line codec refuses bytes that are not UTF-8 before any parsing.
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_response(line);
    let Ok(request) = parse_request(line) else {
        return;
    };
    let text = serde_json::to_string(&request).expect("a request serialises");
    assert_eq!(parse_request(&text).expect("re-parses"), request);
    if let chorus::command::Request::Join { party: Some(p) } = &request {
        let _ = p.parse::<PartyId>();
    }
});
