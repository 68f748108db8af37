"""A Python grpcio client that knows nothing of our API but what server reflection says.

Used by the Rust e2e tests: it builds message classes from reflection (v1alpha, the
version grpcio-reflection speaks), calls the server, and prints one JSON object with
what it saw. Usage: grpc_client.py HOST:PORT TOKEN COUNTER_WAT
"""

import json
import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def main() -> int:
    target, token, wat_path = sys.argv[1], sys.argv[2], sys.argv[3]
    channel = grpc.insecure_channel(target)
    grpc.channel_ready_future(channel).result(timeout=10)
    database = ProtoReflectionDescriptorDatabase(channel)
    pool = descriptor_pool.DescriptorPool(database)
    auth = [("authorization", f"Bearer {token}")]
    out = {"services": sorted(database.get_services())}

    def method(service: str, name: str):
        m = pool.FindServiceByName(service).FindMethodByName(name)
        request = message_factory.GetMessageClass(m.input_type)
        response = message_factory.GetMessageClass(m.output_type)
        call = channel.unary_unary(
            f"/{service}/{name}",
            request_serializer=request.SerializeToString,
            response_deserializer=response.FromString,
        )
        return request, call

    ping_req, ping = method("dotlanth.runtime.v1.RuntimeService", "Ping")
    out["ping"] = json_format.MessageToDict(ping(ping_req(payload="from python"), metadata=auth))
    try:
        ping(ping_req(payload="no token"))
        out["ping_without_token"] = "OK"
    except grpc.RpcError as e:
        out["ping_without_token"] = e.code().name

    deploy_req, deploy = method("dotlanth.vm.v1.VmService", "DeployDot")
    with open(wat_path, "rb") as f:
        deploy(deploy_req(name="pycounter", module=f.read()), metadata=auth)
    exec_req, execute = method("dotlanth.vm.v1.VmService", "ExecuteDot")
    outputs = []
    for _ in range(2):
        r = execute(exec_req(name="pycounter", function="increment"), metadata=auth)
        outputs.append(int.from_bytes(r.output, "little"))
    out["counter_outputs"] = outputs
    try:
        deploy(deploy_req(name="bad", module=b"not wasm"), metadata=auth)
        out["bad_module"] = "OK"
    except grpc.RpcError as e:
        out["bad_module"] = e.code().name

    health = health_pb2_grpc.HealthStub(channel)
    status = health.Check(health_pb2.HealthCheckRequest(service="dotlanth.vm.v1.VmService"))
    out["health"] = health_pb2.HealthCheckResponse.ServingStatus.Name(status.status)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
