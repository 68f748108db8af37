//! Canonical proto3 JSON of the generated types, pinned: REST and GraphQL bodies
//! and logs all go through these serde impls.
//!
//! Run with `cargo test -p dotlanth-runtime --test json`.

use dotlanth_api::dotlanth::monitoring::v1::{
    Block, EventFilter, EventKind, GetStatusResponse, StreamEventsRequest, StreamEventsResponse,
    stream_events_response::Event,
};
use dotlanth_api::dotlanth::runtime::v1::PingResponse;
use dotlanth_api::dotlanth::vm::v1::{DotEvent, ExecuteDotRequest, StateEntry};
use dotlanth_api::wkt::Timestamp;
use serde_json::{Value, json};

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serialize")
}

fn to_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("serialize")
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn ping_at(seconds: i64, nanos: i32) -> PingResponse {
    PingResponse {
        server_time: Some(Timestamp { seconds, nanos }),
        ..Default::default()
    }
}

fn server_time(seconds: i64, nanos: i32) -> Value {
    to_json(&ping_at(seconds, nanos))["serverTime"].clone()
}

// ----------------------------------------------------------------------------
// Timestamp.

#[test]
fn timestamp_is_rfc3339_utc_with_z() {
    assert_eq!(
        to_text(&ping_at(1_700_000_000, 0)),
        r#"{"serverTime":"2023-11-14T22:13:20Z"}"#
    );
}

#[test]
fn timestamp_fraction_has_0_3_6_or_9_digits() {
    assert_eq!(
        server_time(1_700_000_000, 500_000_000),
        "2023-11-14T22:13:20.500Z"
    );
    assert_eq!(
        server_time(1_700_000_000, 1_000),
        "2023-11-14T22:13:20.000001Z"
    );
    assert_eq!(
        server_time(1_700_000_000, 120_000),
        "2023-11-14T22:13:20.000120Z"
    );
    assert_eq!(
        server_time(1_700_000_000, 1),
        "2023-11-14T22:13:20.000000001Z"
    );
    assert_eq!(
        server_time(1_700_000_000, 999_999_999),
        "2023-11-14T22:13:20.999999999Z"
    );
}

#[test]
fn timestamp_range_edges_and_pre_epoch() {
    assert_eq!(server_time(0, 0), "1970-01-01T00:00:00Z");
    assert_eq!(server_time(-1, 500_000_000), "1969-12-31T23:59:59.500Z");
    assert_eq!(server_time(-62_135_596_800, 0), "0001-01-01T00:00:00Z");
    assert_eq!(
        server_time(253_402_300_799, 999_999_999),
        "9999-12-31T23:59:59.999999999Z"
    );
}

#[test]
fn out_of_range_timestamps_do_not_serialize() {
    for (seconds, nanos) in [
        (253_402_300_800, 0),
        (-62_135_596_801, 0),
        (0, -1),
        (0, 1_000_000_000),
    ] {
        assert!(
            serde_json::to_string(&ping_at(seconds, nanos)).is_err(),
            "{seconds}s {nanos}ns"
        );
    }
}

#[test]
fn timestamp_input_accepts_both_field_names() {
    let camel: PingResponse = from_json(r#"{"serverTime":"2023-11-14T22:13:20Z"}"#);
    let snake: PingResponse = from_json(r#"{"server_time":"2023-11-14T22:13:20Z"}"#);
    assert_eq!(camel, ping_at(1_700_000_000, 0));
    assert_eq!(snake, camel);
}

#[test]
fn timestamp_input_with_offset_is_converted_to_utc() {
    let p: PingResponse = from_json(r#"{"serverTime":"2023-11-15T00:13:20+02:00"}"#);
    assert_eq!(p, ping_at(1_700_000_000, 0));
    let p: PingResponse = from_json(r#"{"serverTime":"2023-11-14T20:43:20.25-01:30"}"#);
    assert_eq!(p, ping_at(1_700_000_000, 250_000_000));
    // Round trip writes it back in UTC with `Z`.
    assert_eq!(to_json(&p)["serverTime"], "2023-11-14T22:13:20.250Z");
    // Lower-case `t` and `z` are RFC 3339 too.
    let p: PingResponse = from_json(r#"{"serverTime":"2023-11-14t22:13:20z"}"#);
    assert_eq!(p, ping_at(1_700_000_000, 0));
}

#[test]
fn invalid_or_out_of_range_timestamp_input_is_rejected() {
    for text in [
        r#"{"serverTime":"0000-12-31T23:59:59Z"}"#,
        r#"{"serverTime":"10000-01-01T00:00:00Z"}"#,
        // Valid local time, but after 9999-12-31T23:59:59Z in UTC.
        r#"{"serverTime":"9999-12-31T23:59:59-01:00"}"#,
        // Before 0001-01-01T00:00:00Z in UTC.
        r#"{"serverTime":"0001-01-01T00:00:00+01:00"}"#,
        r#"{"serverTime":"2023-11-14T22:13:20"}"#,
        r#"{"serverTime":"2023-11-14"}"#,
        r#"{"serverTime":"not a time"}"#,
        r#"{"serverTime":1700000000}"#,
    ] {
        assert!(
            serde_json::from_str::<PingResponse>(text).is_err(),
            "accepted {text}"
        );
    }
}

// ----------------------------------------------------------------------------
// Scalars.

#[test]
fn uint64_is_a_json_string() {
    let status = GetStatusResponse {
        height: 5,
        dots: 2,
        executions: u64::MAX,
        ..Default::default()
    };
    let text = to_text(&status);
    assert!(text.contains(r#""height":"5""#), "{text}");
    assert_eq!(
        to_json(&status),
        json!({"height": "5", "dots": "2", "executions": "18446744073709551615"})
    );
    // Input accepts the string and the number form.
    let a: GetStatusResponse = from_json(r#"{"height":"5"}"#);
    let b: GetStatusResponse = from_json(r#"{"height":5}"#);
    assert_eq!(a.height, 5);
    assert_eq!(b.height, 5);
    let max: GetStatusResponse = from_json(r#"{"executions":"18446744073709551615"}"#);
    assert_eq!(max.executions, u64::MAX);
    assert!(serde_json::from_str::<GetStatusResponse>(r#"{"height":"-1"}"#).is_err());
    assert!(serde_json::from_str::<GetStatusResponse>(r#"{"height":"five"}"#).is_err());
}

#[test]
fn bytes_are_base64() {
    let entry = StateEntry {
        key: b"counter".to_vec(),
        value: vec![0, 1, 2, 255],
    };
    assert_eq!(
        to_json(&entry),
        json!({"key": "Y291bnRlcg==", "value": "AAEC/w=="})
    );
    let back: StateEntry = from_json(r#"{"key":"Y291bnRlcg==","value":"AAEC/w=="}"#);
    assert_eq!(back, entry);
}

#[test]
fn enums_by_name() {
    let filter = EventFilter {
        kinds: vec![EventKind::Block as i32, EventKind::Dot as i32],
        dots: vec!["counter".into()],
    };
    assert_eq!(
        to_json(&filter),
        json!({"kinds": ["EVENT_KIND_BLOCK", "EVENT_KIND_DOT"], "dots": ["counter"]})
    );
    let back: EventFilter = from_json(r#"{"kinds":["EVENT_KIND_DOT"]}"#);
    assert_eq!(back.kinds, [EventKind::Dot as i32]);
    assert!(serde_json::from_str::<EventFilter>(r#"{"kinds":["EVENT_KIND_NOPE"]}"#).is_err());
}

#[test]
fn default_values_are_omitted() {
    assert_eq!(to_text(&PingResponse::default()), "{}");
    assert_eq!(to_text(&GetStatusResponse::default()), "{}");
    assert_eq!(to_text(&EventFilter::default()), "{}");
    assert_eq!(to_text(&StateEntry::default()), "{}");
    assert_eq!(to_text(&StreamEventsResponse::default()), "{}");
    // A set message field is written even when it is empty...
    let req = StreamEventsRequest {
        filter: Some(EventFilter::default()),
        ..Default::default()
    };
    assert_eq!(to_text(&req), r#"{"filter":{}}"#);
    // ...and so is an `optional` scalar set to its default.
    let req = StreamEventsRequest {
        start_height: Some(0),
        ..Default::default()
    };
    assert_eq!(to_text(&req), r#"{"startHeight":"0"}"#);
    let exec = ExecuteDotRequest {
        name: "counter".into(),
        fuel_limit: None,
        ..Default::default()
    };
    assert_eq!(to_text(&exec), r#"{"name":"counter"}"#);
}

#[test]
fn duration_is_seconds_with_suffix() {
    let uptime = |seconds, nanos| {
        let status = GetStatusResponse {
            uptime: Some(pbjson_types::Duration { seconds, nanos }),
            ..Default::default()
        };
        to_json(&status)["uptime"].clone()
    };
    assert_eq!(uptime(1, 500_000_000), "1.500s");
    assert_eq!(uptime(3, 0), "3s");
    assert_eq!(uptime(0, 0), "0s");
    assert_eq!(uptime(0, 1_000), "0.000001s");
    assert_eq!(uptime(0, 1), "0.000000001s");
    assert_eq!(uptime(-1, -500_000_000), "-1.500s");
    let back: GetStatusResponse = from_json(r#"{"uptime":"1.500s"}"#);
    assert_eq!(
        back.uptime,
        Some(pbjson_types::Duration {
            seconds: 1,
            nanos: 500_000_000
        })
    );
    assert!(serde_json::from_str::<GetStatusResponse>(r#"{"uptime":"1.5"}"#).is_err());
}

// ----------------------------------------------------------------------------
// Messages.

#[test]
fn unknown_fields_are_ignored() {
    let p: PingResponse = from_json(
        r#"{"payload":"hi","bogus":1,"nested":{"a":[1,2,{"b":null}]},"serverTime":"2023-11-14T22:13:20Z"}"#,
    );
    assert_eq!(p.payload, "hi");
    assert_eq!(
        p.server_time,
        Some(Timestamp {
            seconds: 1_700_000_000,
            nanos: 0
        })
    );
}

#[test]
fn null_message_field_means_unset() {
    let p: PingResponse = from_json(r#"{"payload":"hi","serverTime":null}"#);
    assert_eq!(p.server_time, None);
    let r: StreamEventsRequest = from_json(r#"{"filter":null,"startHeight":null}"#);
    assert_eq!(r, StreamEventsRequest::default());
    // Known gap (pbjson-build): proto3 JSON also allows `null` for a singular
    // scalar field (meaning its default), but `{"payload":null}` is rejected.
}

#[test]
fn oneof_member_is_a_field_of_the_message() {
    let event = StreamEventsResponse {
        event: Some(Event::DotEvent(DotEvent {
            dot: "counter".into(),
            topic: "tick".into(),
            data: vec![1, 2, 3],
            execution_id: 7,
            block_height: 3,
        })),
    };
    assert_eq!(
        to_json(&event),
        json!({
            "dotEvent": {
                "dot": "counter",
                "topic": "tick",
                "data": "AQID",
                "executionId": "7",
                "blockHeight": "3"
            }
        })
    );
    let back: StreamEventsResponse = from_json(&to_text(&event));
    assert_eq!(back, event);
    let snake: StreamEventsResponse = from_json(
        r#"{"dot_event":{"dot":"counter","topic":"tick","data":"AQID","execution_id":"7","block_height":3}}"#,
    );
    assert_eq!(snake, event);

    let block = StreamEventsResponse {
        event: Some(Event::Block(Block {
            height: 0,
            hash: "ab".into(),
            ..Default::default()
        })),
    };
    // A oneof member is written even when its value is the default.
    assert_eq!(to_json(&block), json!({"block": {"hash": "ab"}}));
    // Two members of one oneof are an error.
    assert!(serde_json::from_str::<StreamEventsResponse>(r#"{"block":{},"dotEvent":{}}"#).is_err());
}

#[test]
fn round_trip_of_a_full_message() {
    let status = GetStatusResponse {
        height: 42,
        dots: 3,
        executions: 9,
        uptime: Some(pbjson_types::Duration {
            seconds: 61,
            nanos: 250_000_000,
        }),
        started_at: Some(Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_456_000,
        }),
    };
    let value = to_json(&status);
    assert_eq!(
        value,
        json!({
            "height": "42",
            "dots": "3",
            "executions": "9",
            "uptime": "61.250s",
            "startedAt": "2023-11-14T22:13:20.123456Z"
        })
    );
    let back: GetStatusResponse = from_json(&value.to_string());
    assert_eq!(back, status);
}

// ----------------------------------------------------------------------------
// Timestamp: leap seconds and conversion to `SystemTime`.

#[test]
fn timestamp_rejects_a_leap_second() {
    for text in [
        "2016-12-31T23:59:60Z",
        "2016-12-31T23:59:60.5Z",
        "2017-01-01T00:59:60+01:00",
    ] {
        let err = Timestamp::parse_rfc3339(text).expect_err(text);
        assert!(err.contains("leap second"), "{text}: {err}");
        let json = format!(r#"{{"serverTime":"{text}"}}"#);
        let err = serde_json::from_str::<PingResponse>(&json).expect_err(text);
        assert!(err.to_string().contains("leap second"), "{text}: {err}");
    }
    // The second before is fine, and every parsed value has nanos below 1e9.
    let t = Timestamp::parse_rfc3339("2016-12-31T23:59:59.999999999Z").unwrap();
    assert_eq!(t.nanos, 999_999_999);
}

#[test]
fn timestamp_converts_to_system_time() {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let at = |seconds, nanos| SystemTime::try_from(Timestamp { seconds, nanos });
    assert_eq!(at(0, 0), Ok(UNIX_EPOCH));
    assert_eq!(
        at(1_700_000_000, 5),
        Ok(UNIX_EPOCH + Duration::new(1_700_000_000, 5))
    );
    // Before the epoch: nanos still count forward.
    assert_eq!(
        at(-2, 500_000_000),
        Ok(UNIX_EPOCH - Duration::from_millis(1_500))
    );
    let now = SystemTime::now();
    assert_eq!(SystemTime::try_from(Timestamp::from(now)), Ok(now));
}

#[test]
fn timestamp_out_of_range_is_an_error_not_a_panic() {
    use dotlanth_api::wkt::TimestampOutOfRange;
    use std::time::SystemTime;
    for (seconds, nanos) in [
        (i64::MAX, 0),
        (i64::MIN, 0),
        (i64::MAX, 999_999_999),
        // Just outside 0001-01-01..9999-12-31.
        (-62_135_596_801, 0),
        (253_402_300_800, 0),
        (0, -1),
        (0, 1_000_000_000),
        (-1, i32::MIN),
        (1, i32::MAX),
    ] {
        let t = Timestamp { seconds, nanos };
        assert_eq!(
            SystemTime::try_from(t),
            Err(TimestampOutOfRange),
            "{seconds}s {nanos}ns"
        );
    }
    assert_eq!(TimestampOutOfRange.to_string(), "timestamp out of range");
    // The ends of the valid range convert.
    for seconds in [-62_135_596_800, 253_402_300_799] {
        let t = Timestamp {
            seconds,
            nanos: 999_999_999,
        };
        assert!(SystemTime::try_from(t).is_ok(), "{seconds}");
    }
}
