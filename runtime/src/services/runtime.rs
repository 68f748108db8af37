//! `dotlanth.runtime.v1.RuntimeService`.

use dotlanth_api::dotlanth::runtime::v1::{
    PingRequest, PingResponse, runtime_service_server::RuntimeService,
};
use dotlanth_api::wkt::Timestamp;
use tonic::{Request, Response, Status};

/// Node identity and liveness.
pub struct Runtime;

#[tonic::async_trait]
impl RuntimeService for Runtime {
    async fn ping(&self, request: Request<PingRequest>) -> Result<Response<PingResponse>, Status> {
        Ok(Response::new(PingResponse {
            payload: request.into_inner().payload,
            server_time: Some(Timestamp::now()),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }))
    }
}
