//! `dotlanth.vm.v1.VmService`.

use super::{blocking, millis, required};
use dotlanth_api::dotlanth::vm::v1 as pb;
use dotlanth_api::dotlanth::vm::v1::vm_service_server::VmService;
use dotlanth_vm::Vm;
use tonic::{Request, Response, Status};

/// Deploys, executes and describes dots.
pub struct Dots {
    vm: Vm,
}

impl Dots {
    /// Over this VM.
    pub fn new(vm: Vm) -> Self {
        Dots { vm }
    }
}

/// A VM dot as its API message.
pub fn dot(info: dotlanth_vm::DotInfo, executions: u64) -> pb::Dot {
    pb::Dot {
        name: info.name,
        description: info.description,
        module_hash: info.module_hash,
        module_size: info.module_size,
        deployed_at: Some(millis(info.deployed_at)),
        exports: info
            .exports
            .into_iter()
            .map(|f| pb::ExportedFunction {
                name: f.name,
                params: f.params,
                results: f.results,
            })
            .collect(),
        executions,
    }
}

/// A VM dot event as its API message.
pub fn dot_event(e: dotlanth_vm::DotEvent) -> pb::DotEvent {
    pb::DotEvent {
        dot: e.dot,
        topic: e.topic,
        data: e.data,
        execution_id: e.execution_id,
        block_height: e.block_height,
    }
}

#[tonic::async_trait]
impl VmService for Dots {
    async fn deploy_dot(
        &self,
        request: Request<pb::DeployDotRequest>,
    ) -> Result<Response<pb::DeployDotResponse>, Status> {
        let r = request.into_inner();
        required(&r.name, "name")?;
        if r.module.is_empty() {
            return Err(Status::invalid_argument("`module` is required"));
        }
        let vm = self.vm.clone();
        let info = blocking(move || vm.deploy(&r.name, &r.module, &r.description)).await?;
        Ok(Response::new(pb::DeployDotResponse {
            dot: Some(dot(info, 0)),
        }))
    }

    async fn execute_dot(
        &self,
        request: Request<pb::ExecuteDotRequest>,
    ) -> Result<Response<pb::ExecuteDotResponse>, Status> {
        let r = request.into_inner();
        required(&r.name, "name")?;
        required(&r.function, "function")?;
        let vm = self.vm.clone();
        let ex = blocking(move || vm.execute(&r.name, &r.function, &r.input, r.fuel_limit)).await?;
        Ok(Response::new(pb::ExecuteDotResponse {
            execution_id: ex.id,
            output: ex.output,
            fuel_used: ex.fuel_used,
            events: ex.events.into_iter().map(dot_event).collect(),
            block_height: ex.block_height,
        }))
    }

    async fn get_dot(
        &self,
        request: Request<pb::GetDotRequest>,
    ) -> Result<Response<pb::GetDotResponse>, Status> {
        let r = request.into_inner();
        required(&r.name, "name")?;
        let vm = self.vm.clone();
        let details = blocking(move || vm.get_dot(&r.name)).await?;
        Ok(Response::new(pb::GetDotResponse {
            dot: Some(dot(details.info, details.executions)),
            state: details
                .state
                .into_iter()
                .map(|(key, value)| pb::StateEntry { key, value })
                .collect(),
        }))
    }
}
