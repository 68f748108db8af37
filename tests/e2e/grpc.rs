//! gRPC client helpers: typed tonic clients, bearer tokens, a raw-bytes codec.

use crate::harness::{Server, workspace};
use bytes::{Buf, BufMut, Bytes};
use dotlanth_api::dotlanth::monitoring::v1::monitoring_service_client::MonitoringServiceClient;
use dotlanth_api::dotlanth::runtime::v1::runtime_service_client::RuntimeServiceClient;
use dotlanth_api::dotlanth::vm::v1 as vm;
use dotlanth_api::dotlanth::vm::v1::vm_service_client::VmServiceClient;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

pub use crate::harness::{DEV_TOKEN, READER_TOKEN};

/// A connected channel to the server's gRPC port.
pub async fn channel(server: &Server) -> Channel {
    Channel::from_shared(server.grpc_url())
        .expect("valid url")
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", server.grpc_url()))
}

/// The three API clients over one channel.
pub struct Clients {
    pub runtime: RuntimeServiceClient<Channel>,
    pub vm: VmServiceClient<Channel>,
    pub monitoring: MonitoringServiceClient<Channel>,
    pub channel: Channel,
}

impl Clients {
    pub async fn connect(server: &Server) -> Clients {
        let channel = channel(server).await;
        Clients {
            runtime: RuntimeServiceClient::new(channel.clone()),
            vm: VmServiceClient::new(channel.clone()),
            monitoring: MonitoringServiceClient::new(channel.clone()),
            channel,
        }
    }

    /// Deploys `module` as `name` with the dev token; panics on failure.
    pub async fn deploy(&mut self, name: &str, module: Vec<u8>) -> vm::Dot {
        let req = vm::DeployDotRequest {
            name: name.into(),
            module,
            description: format!("e2e {name}"),
        };
        self.vm
            .deploy_dot(authed(req, DEV_TOKEN))
            .await
            .unwrap_or_else(|s| panic!("deploy {name}: {s:?}"))
            .into_inner()
            .dot
            .expect("DeployDotResponse.dot")
    }

    /// Executes `function` of `name` with the dev token.
    pub async fn execute(
        &mut self,
        name: &str,
        function: &str,
    ) -> Result<vm::ExecuteDotResponse, Status> {
        let req = vm::ExecuteDotRequest {
            name: name.into(),
            function: function.into(),
            input: vec![],
            fuel_limit: None,
        };
        self.vm
            .execute_dot(authed(req, DEV_TOKEN))
            .await
            .map(|r| r.into_inner())
    }

    /// GetDot with the dev token.
    pub async fn get_dot(&mut self, name: &str) -> Result<vm::GetDotResponse, Status> {
        self.vm
            .get_dot(authed(vm::GetDotRequest { name: name.into() }, DEV_TOKEN))
            .await
            .map(|r| r.into_inner())
    }
}

/// A request carrying `authorization: Bearer <token>`.
pub fn authed<T>(msg: T, token: &str) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    req
}

/// The code of a call result (`Ok` for success).
pub fn code_of<T>(result: &Result<T, Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    }
}

/// Asserts a call failed with exactly `expected`.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(result: Result<T, Status>, expected: Code, what: &str) {
    match result {
        Ok(v) => panic!("{what}: expected {expected:?}, got OK: {v:?}"),
        Err(s) => assert_eq!(s.code(), expected, "{what}: unexpected status {s:?}"),
    }
}

/// The bytes of `examples/dots/<file>`.
pub fn example(file: &str) -> Vec<u8> {
    let path = workspace().join("examples/dots").join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// An 8-byte little-endian u64.
#[track_caller]
pub fn le_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(
        bytes
            .try_into()
            .unwrap_or_else(|_| panic!("expected 8 bytes, got {bytes:?}")),
    )
}

/// The value of `key` in a GetDot state.
pub fn state_value<'a>(dot: &'a vm::GetDotResponse, key: &[u8]) -> Option<&'a [u8]> {
    dot.state
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.value.as_slice())
}

/// A codec that sends and receives message bodies as raw bytes, to put bytes on
/// the wire that no generated client would.
#[derive(Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// A unary call of `path` (`/pkg.Service/Method`) whose request body is `body`, verbatim.
pub async fn raw_unary(
    channel: Channel,
    path: &'static str,
    body: Bytes,
    token: &str,
) -> Result<Bytes, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("channel not ready: {e}")))?;
    let path = http::uri::PathAndQuery::from_static(path);
    grpc.unary(authed(body, token), path, RawCodec)
        .await
        .map(|r| r.into_inner())
}
