//! `dotlanth.monitoring.v1.MonitoringService`.

use super::{blocking, millis, vm::dot_event};
use dotlanth_api::dotlanth::monitoring::v1 as pb;
use dotlanth_api::dotlanth::monitoring::v1::monitoring_service_server::MonitoringService;
use dotlanth_api::dotlanth::monitoring::v1::stream_events_response::Event;
use dotlanth_vm::{Vm, VmEvent};
use futures_util::Stream;
use std::collections::HashSet;
use std::pin::Pin;
use tokio::sync::watch;
use tonic::{Request, Response, Status};

/// Status, blocks and the event stream.
pub struct Monitoring {
    vm: Vm,
    /// Turns true when the server shuts down: open event streams end then, so
    /// that they do not hold the graceful shutdown for its whole grace period.
    shutdown: watch::Receiver<bool>,
}

impl Monitoring {
    /// Over this VM; event streams end when `shutdown` turns true.
    pub fn new(vm: Vm, shutdown: watch::Receiver<bool>) -> Self {
        Monitoring { vm, shutdown }
    }
}

/// A VM block as its API message.
pub fn block(b: dotlanth_vm::Block) -> pb::Block {
    pb::Block {
        height: b.height,
        hash: b.hash_hex(),
        parent_hash: b.parent_hash_hex(),
        timestamp: Some(millis(b.timestamp)),
        executions: b
            .executions
            .into_iter()
            .map(|e| pb::ExecutionSummary {
                id: e.id,
                dot: e.dot,
                function: e.function,
                fuel_used: e.fuel_used,
                event_count: u32::try_from(e.events.len()).unwrap_or(u32::MAX),
            })
            .collect(),
    }
}

/// Which events a stream delivers.
struct Filter {
    blocks: bool,
    dot_events: bool,
    dots: HashSet<String>,
}

/// Most dot names one stream may filter on.
const MAX_FILTER_DOTS: usize = 256;

impl Filter {
    fn new(filter: Option<pb::EventFilter>) -> Result<Self, Status> {
        let filter = filter.unwrap_or_default();
        let mut kinds = Vec::new();
        for k in &filter.kinds {
            match pb::EventKind::try_from(*k) {
                Ok(pb::EventKind::Unspecified) | Err(_) => {
                    return Err(Status::invalid_argument(format!(
                        "filter.kinds: unknown event kind {k}"
                    )));
                }
                Ok(kind) => kinds.push(kind),
            }
        }
        Ok(Filter {
            blocks: kinds.is_empty() || kinds.contains(&pb::EventKind::Block),
            dot_events: kinds.is_empty() || kinds.contains(&pb::EventKind::Dot),
            dots: {
                if filter.dots.len() > MAX_FILTER_DOTS {
                    return Err(Status::invalid_argument(format!(
                        "filter.dots: at most {MAX_FILTER_DOTS} names"
                    )));
                }
                filter.dots.into_iter().collect()
            },
        })
    }

    fn accepts(&self, event: &VmEvent) -> bool {
        match event {
            VmEvent::Block(_) => self.blocks,
            VmEvent::Dot(e) => {
                self.dot_events && (self.dots.is_empty() || self.dots.contains(&e.dot))
            }
        }
    }
}

/// `google.rpc.ErrorInfo`, for the lagged status's details.
#[derive(Clone, PartialEq, prost::Message)]
struct ErrorInfo {
    #[prost(string, tag = "1")]
    reason: String,
    #[prost(string, tag = "2")]
    domain: String,
    #[prost(map = "string, string", tag = "3")]
    metadata: std::collections::HashMap<String, String>,
}

/// `google.rpc.Status`, the encoding of a status's details.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// RESOURCE_EXHAUSTED for a subscriber that fell behind: the message names the
/// height to resume from, and so does an `ErrorInfo` detail (reason `LAGGED`,
/// metadata `resume_from`) for clients that read details.
fn lagged_status(lagged: &dotlanth_vm::Lagged) -> Status {
    use prost::Message;
    let message = lagged.to_string();
    let info = ErrorInfo {
        reason: "LAGGED".into(),
        domain: "dotlanth.monitoring.v1".into(),
        metadata: [("resume_from".to_string(), lagged.resume_from.to_string())].into(),
    };
    let details = RpcStatus {
        code: tonic::Code::ResourceExhausted as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
            value: info.encode_to_vec(),
        }],
    };
    Status::with_details(
        tonic::Code::ResourceExhausted,
        message,
        details.encode_to_vec().into(),
    )
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::StreamEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl MonitoringService for Monitoring {
    async fn get_status(
        &self,
        _: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::GetStatusResponse>, Status> {
        let s = self.vm.status();
        Ok(Response::new(pb::GetStatusResponse {
            height: s.height,
            dots: s.dots,
            executions: s.executions_total,
            uptime: Some(pbjson_types::Duration {
                seconds: s.uptime.as_secs() as i64,
                nanos: s.uptime.subsec_nanos() as i32,
            }),
            started_at: Some(s.started_at.into()),
        }))
    }

    async fn get_block(
        &self,
        request: Request<pb::GetBlockRequest>,
    ) -> Result<Response<pb::GetBlockResponse>, Status> {
        let height = request.into_inner().height;
        let vm = self.vm.clone();
        let b = blocking(move || vm.block(height)).await?;
        Ok(Response::new(pb::GetBlockResponse {
            block: Some(block(b)),
        }))
    }

    type StreamEventsStream = EventStream;

    async fn stream_events(
        &self,
        request: Request<pb::StreamEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let r = request.into_inner();
        let filter = Filter::new(r.filter)?;
        let vm = self.vm.clone();
        let start = r.start_height;
        let next_height = self.vm.status().height + 1;
        if let Some(h) = start.filter(|h| *h > next_height) {
            return Err(Status::out_of_range(format!(
                "start_height {h} is beyond the next block ({next_height})"
            )));
        }
        let subscription = blocking(move || vm.try_subscribe(start)).await?;
        let shutdown = self.shutdown.clone();
        let stream = futures_util::stream::unfold(
            (Some(subscription), filter, shutdown),
            |(subscription, filter, mut shutdown)| async move {
                let mut subscription = subscription?;
                loop {
                    // Filtered-out events cost budget too: yield now and then so a
                    // replay of a long chain cannot monopolise a worker thread.
                    tokio::task::consume_budget().await;
                    let next = tokio::select! {
                        next = subscription.next() => Some(next),
                        _ = shutdown.wait_for(|stopping| *stopping) => None,
                    };
                    let Some(next) = next else {
                        // Shutting down: end the stream so the graceful shutdown can finish.
                        let status = Status::unavailable("the server is shutting down");
                        return Some((Err(status), (None, filter, shutdown)));
                    };
                    let event = match next? {
                        Ok(event) => event,
                        // The subscription has ended; report why, then end the stream.
                        Err(lagged) => {
                            return Some((Err(lagged_status(&lagged)), (None, filter, shutdown)));
                        }
                    };
                    if filter.accepts(&event) {
                        let event = match event {
                            VmEvent::Block(b) => Event::Block(block(b)),
                            VmEvent::Dot(e) => Event::DotEvent(dot_event(e)),
                        };
                        let message = pb::StreamEventsResponse { event: Some(event) };
                        return Some((Ok(message), (Some(subscription), filter, shutdown)));
                    }
                }
            },
        );
        Ok(Response::new(Box::pin(stream)))
    }
}
