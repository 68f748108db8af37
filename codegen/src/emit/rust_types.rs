//! Rust message types (prost), gRPC stubs (tonic) and canonical proto3 JSON
//! (pbjson) for every package of the model.

use crate::model::Api;
use crate::{GeneratedFile, emit::RUST_HEADER};
use prost::Message;
use prost_build::Module;
use prost_types::FileDescriptorSet;

/// Rust paths of well-known types, by proto path. `Timestamp` has our own type
/// because pbjson-types writes `+00:00` where proto3 JSON requires `Z`.
const EXTERN_PATHS: &[(&str, &str)] = &[
    (".google.protobuf", "::pbjson_types"),
    (".google.protobuf.Timestamp", "crate::wkt::Timestamp"),
];

/// Emits `src/<package>.rs` and `src/<package>.serde.rs` for each package.
pub fn emit(api: &Api, fds: &FileDescriptorSet) -> Result<Vec<GeneratedFile>, String> {
    let mut config = prost_build::Config::new();
    config.compile_well_known_types();
    for (proto, rust) in EXTERN_PATHS {
        config.extern_path(*proto, *rust);
    }
    config.service_generator(
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            .build_transport(true)
            .codec_path("crate::codec::Codec")
            .service_generator(),
    );
    // prost-build needs every file of the set (its message graph resolves every
    // referenced type); modules of packages we do not emit are dropped below.
    let requests = fds
        .file
        .iter()
        .map(|f| (Module::from_protobuf_package_name(f.package()), f.clone()))
        .collect();
    let modules = config
        .generate(requests)
        .map_err(|e| format!("prost-build: {e}"))?;

    let mut json = pbjson_build::Builder::new();
    json.register_descriptors(&fds.encode_to_vec())
        .map_err(|e| format!("pbjson-build: {e}"))?
        .ignore_unknown_fields();
    for (proto, rust) in EXTERN_PATHS {
        json.extern_path(*proto, *rust);
    }

    let mut out = Vec::new();
    for package in &api.packages {
        let module = Module::from_protobuf_package_name(package);
        let Some(code) = modules.get(&module) else {
            continue;
        };
        out.push(GeneratedFile::text(
            format!("src/{package}.rs"),
            format!("{RUST_HEADER}{code}"),
        ));
        let prefix = format!(".{package}");
        let written = json
            .generate(&[prefix.as_str()], |_| Ok(Vec::<u8>::new()))
            .map_err(|e| format!("pbjson-build: {e}"))?;
        let mut serde = String::new();
        for (pkg, bytes) in written {
            // `.a.b` also matches package `a.b.c`: keep only this package. Compare
            // the raw names: `Package`'s Display escapes keywords (`r#type`).
            let name: Vec<String> = pkg.path().iter().map(ToString::to_string).collect();
            if name.join(".") == *package {
                serde.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        out.push(GeneratedFile::text(
            format!("src/{package}.serde.rs"),
            format!("{RUST_HEADER}{serde}"),
        ));
    }
    Ok(out)
}

/// The Rust module path of a package (`dotlanth.vm.v1` → `["dotlanth", "vm", "v1"]`).
pub fn module_parts(package: &str) -> Vec<String> {
    Module::from_protobuf_package_name(package)
        .parts()
        .map(str::to_string)
        .collect()
}
