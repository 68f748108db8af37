//! The API over gRPC: ping, auth, error codes, fuel, malformed messages.

use crate::grpc::*;
use crate::harness::{Server, ServerOpts, within};
use bytes::Bytes;
use dotlanth_api::dotlanth::monitoring::v1 as mon;
use dotlanth_api::dotlanth::runtime::v1::PingRequest;
use dotlanth_api::dotlanth::vm::v1 as vm;
use std::time::{Duration, SystemTime};
use tonic::{Code, Request};

/// 1. Ping with the dev token echoes the payload with a version and a clock.
#[tokio::test]
async fn ping_echoes_payload() {
    let server = Server::start(ServerOpts::default()).await;
    let mut c = Clients::connect(&server).await;
    let before = SystemTime::now() - Duration::from_secs(5);
    let resp = within(
        10,
        "Ping",
        c.runtime.ping(authed(
            PingRequest {
                payload: "hello, dots ✓".into(),
            },
            DEV_TOKEN,
        )),
    )
    .await
    .expect("Ping")
    .into_inner();
    let after = SystemTime::now() + Duration::from_secs(5);
    assert_eq!(resp.payload, "hello, dots ✓");
    assert!(!resp.version.is_empty(), "version is empty");
    assert_eq!(
        resp.version.split('.').count(),
        3,
        "version {:?} is not semver",
        resp.version
    );
    let server_time =
        SystemTime::try_from(resp.server_time.expect("server_time is set")).expect("in range");
    assert!(
        before <= server_time && server_time <= after,
        "server_time {server_time:?} is not close to the local clock"
    );
}

/// 5. Authentication and authorization codes.
#[tokio::test]
async fn auth_codes() {
    let server = Server::start(ServerOpts::default()).await;
    let mut c = Clients::connect(&server).await;
    let deploy = || vm::DeployDotRequest {
        name: "counter".into(),
        module: example("counter.wat"),
        description: String::new(),
    };

    let r = c.vm.deploy_dot(Request::new(deploy())).await;
    assert_code(r, Code::Unauthenticated, "DeployDot without a token");
    let r = c.vm.deploy_dot(authed(deploy(), "not-a-valid-token")).await;
    assert_code(r, Code::Unauthenticated, "DeployDot with an unknown token");
    let mut basic = Request::new(deploy());
    basic
        .metadata_mut()
        .insert("authorization", "Basic ZGV2OmRldg==".parse().unwrap());
    assert_code(
        c.vm.deploy_dot(basic).await,
        Code::Unauthenticated,
        "DeployDot with Basic auth",
    );
    let r = c.vm.deploy_dot(authed(deploy(), READER_TOKEN)).await;
    assert_code(r, Code::PermissionDenied, "DeployDot with the reader token");
    let ex = vm::ExecuteDotRequest {
        name: "counter".into(),
        function: "increment".into(),
        ..Default::default()
    };
    let r = c.vm.execute_dot(authed(ex, READER_TOKEN)).await;
    assert_code(
        r,
        Code::PermissionDenied,
        "ExecuteDot with the reader token",
    );

    // The reader is authorized for GetDot: NOT_FOUND before the deployment, OK after.
    let r =
        c.vm.get_dot(authed(
            vm::GetDotRequest {
                name: "counter".into(),
            },
            READER_TOKEN,
        ))
        .await;
    assert_code(
        r,
        Code::NotFound,
        "GetDot (reader) of a dot not deployed yet",
    );
    c.deploy("counter", example("counter.wat")).await;
    let got =
        c.vm.get_dot(authed(
            vm::GetDotRequest {
                name: "counter".into(),
            },
            READER_TOKEN,
        ))
        .await
        .expect("GetDot with the reader token")
        .into_inner();
    assert_eq!(got.dot.expect("dot").name, "counter");
    // ... but only with a valid token.
    let r =
        c.vm.get_dot(Request::new(vm::GetDotRequest {
            name: "counter".into(),
        }))
        .await;
    assert_code(r, Code::Unauthenticated, "GetDot without a token");

    // Ping needs any valid token, no scope.
    c.runtime
        .ping(authed(
            PingRequest {
                payload: "r".into(),
            },
            READER_TOKEN,
        ))
        .await
        .expect("Ping with the reader token");
    assert_code(
        c.runtime.ping(PingRequest::default()).await,
        Code::Unauthenticated,
        "Ping without a token",
    );

    // GetStatus is public: no token, and even a bad token, are fine.
    let status = c
        .monitoring
        .get_status(mon::GetStatusRequest {})
        .await
        .expect("GetStatus without a token");
    assert_eq!(status.into_inner().dots, 1);
    c.monitoring
        .get_status(authed(mon::GetStatusRequest {}, "bogus"))
        .await
        .expect("GetStatus with an unknown token");
    // GetBlock needs chain.read, which the reader has.
    let b = c
        .monitoring
        .get_block(authed(mon::GetBlockRequest { height: 0 }, READER_TOKEN))
        .await;
    assert_eq!(
        code_of(&b),
        Code::Ok,
        "GetBlock(0) with the reader token: {b:?}"
    );
    assert_code(
        c.monitoring
            .get_block(mon::GetBlockRequest { height: 0 })
            .await,
        Code::Unauthenticated,
        "GetBlock without a token",
    );
}

/// 6. Error codes of the VM service.
#[tokio::test]
async fn vm_error_codes() {
    let server = Server::start(ServerOpts::default()).await;
    let mut c = Clients::connect(&server).await;
    let deploy = |name: &str, module: &[u8]| {
        authed(
            vm::DeployDotRequest {
                name: name.into(),
                module: module.to_vec(),
                description: String::new(),
            },
            DEV_TOKEN,
        )
    };

    let r =
        c.vm.deploy_dot(deploy("badwasm", b"\0asm\x01\0\0\0\x01\xff\xff garbage"))
            .await;
    assert_code(r, Code::InvalidArgument, "deploy of bad wasm bytes");
    let r =
        c.vm.deploy_dot(deploy("badwat", b"(module (func (export \"f\") (i32.add"))
            .await;
    assert_code(r, Code::InvalidArgument, "deploy of malformed WAT");
    let r =
        c.vm.deploy_dot(deploy(
            "badwat2",
            b"(module (func (export \"f\") (i32.add)))",
        ))
        .await;
    assert_code(
        r,
        Code::InvalidArgument,
        "deploy of WAT that does not validate",
    );
    let r =
        c.vm.deploy_dot(deploy(
            "badimport",
            b"(module (import \"env\" \"launch_missiles\" (func)))",
        ))
        .await;
    assert_code(
        r,
        Code::InvalidArgument,
        "deploy importing an unknown host function",
    );
    assert_code(
        c.vm.deploy_dot(deploy("", &example("counter.wat"))).await,
        Code::InvalidArgument,
        "empty name",
    );
    assert_code(
        c.vm.deploy_dot(deploy("Bad Name", &example("counter.wat")))
            .await,
        Code::InvalidArgument,
        "bad name",
    );
    assert_code(
        c.vm.deploy_dot(deploy("nomodule", b"")).await,
        Code::InvalidArgument,
        "empty module",
    );

    c.deploy("counter", example("counter.wat")).await;
    let r =
        c.vm.deploy_dot(deploy("counter", &example("echo.wat")))
            .await;
    assert_code(r, Code::AlreadyExists, "deploy under a taken name");

    assert_code(
        c.execute("ghost", "increment").await,
        Code::NotFound,
        "ExecuteDot of an unknown dot",
    );
    assert_code(
        c.get_dot("ghost").await,
        Code::NotFound,
        "GetDot of an unknown dot",
    );
    assert_code(
        c.execute("counter", "decrement").await,
        Code::InvalidArgument,
        "unknown function",
    );
    assert_code(
        c.execute("counter", "memory").await,
        Code::InvalidArgument,
        "a memory export",
    );
    assert_code(
        c.execute("counter", "").await,
        Code::InvalidArgument,
        "empty function",
    );
    assert_code(
        c.execute("", "increment").await,
        Code::InvalidArgument,
        "ExecuteDot with an empty name",
    );
    assert_code(
        c.get_dot("").await,
        Code::InvalidArgument,
        "GetDot with an empty name",
    );

    c.deploy(
        "params",
        b"(module (func (export \"f\") (param i32)))".to_vec(),
    )
    .await;
    assert_code(
        c.execute("params", "f").await,
        Code::InvalidArgument,
        "a function with parameters",
    );
    c.deploy(
        "boom",
        b"(module (func (export \"boom\") unreachable))".to_vec(),
    )
    .await;
    assert_code(
        c.execute("boom", "boom").await,
        Code::FailedPrecondition,
        "a trapping function",
    );

    // None of the failures had an effect.
    let counter = c.get_dot("counter").await.expect("GetDot counter");
    assert!(
        counter.state.is_empty(),
        "state after failed calls: {:?}",
        counter.state
    );
    assert_eq!(counter.dot.expect("dot").executions, 0);
    let status = c
        .monitoring
        .get_status(mon::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((status.dots, status.executions), (3, 0), "{status:?}");
}

/// 7. Running out of fuel is RESOURCE_EXHAUSTED and has no effect: no state, no event.
#[tokio::test]
async fn fuel_exhaustion_is_atomic() {
    let server = Server::start(ServerOpts::default()).await;
    let mut c = Clients::connect(&server).await;
    c.deploy("spin", example("infinite_loop.wat")).await;
    c.deploy("counter", example("counter.wat")).await;
    let before = c.get_dot("spin").await.expect("GetDot before");

    let filter = mon::EventFilter {
        kinds: vec![mon::EventKind::Dot as i32],
        dots: vec![],
    };
    let req = mon::StreamEventsRequest {
        start_height: None,
        filter: Some(filter),
    };
    let mut events = within(
        10,
        "StreamEvents",
        c.monitoring.stream_events(authed(req, DEV_TOKEN)),
    )
    .await
    .expect("StreamEvents")
    .into_inner();

    let r = within(30, "ExecuteDot spin/run", c.execute("spin", "run")).await;
    match &r {
        Err(s) => assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}"),
        Ok(v) => panic!("an infinite loop completed: {v:?}"),
    }
    // An explicit, smaller fuel limit fails the same way.
    let req = vm::ExecuteDotRequest {
        name: "spin".into(),
        function: "run".into(),
        input: vec![],
        fuel_limit: Some(1000),
    };
    assert_code(
        c.vm.execute_dot(authed(req, DEV_TOKEN)).await,
        Code::ResourceExhausted,
        "run with fuel 1000",
    );

    let after = c.get_dot("spin").await.expect("GetDot after");
    assert_eq!(
        before.state, after.state,
        "the failed run changed the state"
    );
    assert!(
        after.state.is_empty(),
        "state after the failed run: {:?}",
        after.state
    );
    assert_eq!(after.dot.expect("dot").executions, 0);

    // The first dot event on the stream is the counter's, not the failed run's "started".
    c.execute("counter", "increment").await.expect("increment");
    let first = within(10, "a dot event", events.message())
        .await
        .expect("stream error")
        .expect("stream ended");
    match first.event {
        Some(mon::stream_events_response::Event::DotEvent(e)) => {
            assert_eq!(
                (e.dot.as_str(), e.topic.as_str()),
                ("counter", "incremented"),
                "{e:?}"
            );
        }
        other => panic!("expected a dot event, got {other:?}"),
    }
}

/// 15. A request body that is not a valid protobuf message fails with a status, and
/// the server keeps serving.
#[tokio::test]
async fn malformed_protobuf_is_rejected() {
    let server = Server::start(ServerOpts::default()).await;
    let mut c = Clients::connect(&server).await;
    let garbage: [&'static [u8]; 3] = [
        // field 1 (name), length 100, but only a few bytes follow
        b"\x0a\x64only-a-few-bytes",
        // a varint that never ends
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        // field 1 (name) with invalid UTF-8
        b"\x0a\x02\xff\xfe\x12\x01\x00",
    ];
    for body in garbage {
        let r = within(
            10,
            "raw DeployDot",
            raw_unary(
                c.channel.clone(),
                "/dotlanth.vm.v1.VmService/DeployDot",
                Bytes::from_static(body),
                DEV_TOKEN,
            ),
        )
        .await;
        match r {
            Ok(reply) => panic!("garbage {body:?} was accepted: reply {reply:?}"),
            // The sender's mistake, as documented for malformed requests (not INTERNAL).
            Err(s) => assert_eq!(s.code(), Code::InvalidArgument, "garbage {body:?}: {s:?}"),
        }
    }
    // Control: the same raw path with a well-formed message works.
    let valid = vm::DeployDotRequest {
        name: "raw".into(),
        module: example("echo.wat"),
        description: String::new(),
    };
    let reply = raw_unary(
        c.channel.clone(),
        "/dotlanth.vm.v1.VmService/DeployDot",
        Bytes::from(prost::Message::encode_to_vec(&valid)),
        DEV_TOKEN,
    )
    .await
    .expect("raw DeployDot of a valid message");
    let reply: vm::DeployDotResponse = prost::Message::decode(reply).expect("a DeployDotResponse");
    assert_eq!(reply.dot.expect("dot").name, "raw");

    let pong = c
        .runtime
        .ping(authed(
            PingRequest {
                payload: "still here".into(),
            },
            DEV_TOKEN,
        ))
        .await
        .expect("Ping after the malformed calls")
        .into_inner();
    assert_eq!(pong.payload, "still here");
    let status = c
        .monitoring
        .get_status(mon::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.dots, 1, "garbage deployed something: {status:?}");
}

/// Error messages never carry unbounded client input (clients cap metadata size:
/// grpcio at 16 KiB would turn the real code into RESOURCE_EXHAUSTED).
#[tokio::test]
async fn error_messages_stay_short_whatever_the_input() {
    let server = Server::start(ServerOpts::default()).await;
    let mut c = Clients::connect(&server).await;
    let huge = "a".repeat(100_000);
    let status = c.get_dot(&huge).await.unwrap_err();
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "GetDot with a 100 KB name"
    );
    assert!(
        status.message().len() <= 1100,
        "{} bytes",
        status.message().len()
    );
    c.deploy("counter", example("counter.wat")).await;
    let r = c.execute("counter", &huge).await;
    let status = r.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().len() <= 1100,
        "{} bytes",
        status.message().len()
    );
    let wat = format!("({}", "(".repeat(200_000));
    let r =
        c.vm.deploy_dot(authed(
            vm::DeployDotRequest {
                name: "huge".into(),
                module: wat.into_bytes(),
                description: String::new(),
            },
            DEV_TOKEN,
        ))
        .await;
    let status = r.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().len() <= 1100,
        "{} bytes",
        status.message().len()
    );
}
