//! The Dotlanth API generator.
//!
//! Its core is one pure function, [`generate`]: an encoded descriptor set (the
//! files to generate plus all their imports), the names of the files to generate
//! and [`Options`] go in; a list of [`GeneratedFile`]s comes out. On the way it
//! builds **one model** of the API ([`model::Api`], by [`registry::build`]) that
//! every emitter in [`emit`] reads. Two drivers call it: `cargo xtask gen`
//! (protox) and the protoc plugin `protoc-gen-dotlanth` (`buf generate`, see
//! [`plugin`]); both therefore write the same bytes.

pub mod emit;
pub mod model;
pub mod plugin;
pub mod registry;
pub mod template;

use prost::Message;
use prost_reflect::DescriptorPool;
use std::fmt;

pub use registry::Diagnostic;

/// Settings of a generation run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Name of the generated crate (`Cargo.toml`'s `package.name`).
    pub crate_name: String,
    /// The OpenAPI version of `openapi/openapi.{json,yaml}` (3.0.3 unless asked).
    pub openapi: emit::openapi::Version,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            crate_name: "dotlanth-api".into(),
            openapi: emit::openapi::Version::default(),
        }
    }
}

impl Options {
    /// Options for a crate named `crate_name`, which must be a valid lowercase
    /// Cargo package name (see [`Options::validate`]).
    pub fn new(crate_name: impl Into<String>) -> Result<Self, Error> {
        let options = Options {
            crate_name: crate_name.into(),
            ..Options::default()
        };
        options.validate()?;
        Ok(options)
    }

    /// Parses `key=value` pairs separated by commas (the protoc plugin parameter).
    pub fn parse(parameter: &str) -> Result<Self, Error> {
        let mut options = Options::default();
        for pair in parameter
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match pair.split_once('=') {
                Some(("crate_name", v)) => options.crate_name = v.to_string(),
                Some(("openapi", v)) => {
                    options.openapi = v.parse().map_err(Error::Options)?;
                }
                _ => {
                    return Err(Error::Options(format!(
                        "unknown option `{pair}` (known: crate_name=NAME, openapi=3.0|3.1)"
                    )));
                }
            }
        }
        options.validate()?;
        Ok(options)
    }

    /// Checks the options: `crate_name` must match `[a-z][a-z0-9_-]*` (a Cargo
    /// package name, lowercase), so it can be written into `Cargo.toml` as is.
    pub fn validate(&self) -> Result<(), Error> {
        let name = &self.crate_name;
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if valid {
            Ok(())
        } else {
            Err(Error::Options(format!(
                "crate_name `{name}` is not a valid crate name: it must start with a lowercase \
                 ASCII letter and contain only lowercase ASCII letters, digits, `_` and `-`"
            )))
        }
    }
}

/// One output file, its path relative to the output directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Relative path, `/`-separated.
    pub path: String,
    /// The bytes to write.
    pub contents: Vec<u8>,
}

impl GeneratedFile {
    /// A text file.
    pub fn text(path: impl Into<String>, contents: impl Into<String>) -> Self {
        GeneratedFile {
            path: path.into(),
            contents: contents.into().into_bytes(),
        }
    }
}

/// Why generation failed.
#[derive(Debug)]
pub enum Error {
    /// The descriptor set does not decode or link.
    Descriptors(String),
    /// The protos break a rule; every problem found is listed.
    Invalid(Vec<Diagnostic>),
    /// An emitter failed.
    Emit(String),
    /// Bad generator options.
    Options(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Descriptors(e) => write!(f, "invalid descriptor set: {e}"),
            Error::Invalid(diags) => {
                write!(f, "{} problem(s) in the protos:", diags.len())?;
                for d in diags {
                    write!(f, "\n  {d}")?;
                }
                Ok(())
            }
            Error::Emit(e) => write!(f, "generation failed: {e}"),
            Error::Options(e) => write!(f, "invalid options: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Generates every output file for `files_to_generate`.
///
/// `descriptor_set` is an encoded `google.protobuf.FileDescriptorSet` holding those
/// files and everything they import. The result is sorted by path and depends only
/// on the descriptors' content, not on the order of files in the set.
pub fn generate(
    descriptor_set: &[u8],
    files_to_generate: &[String],
    options: &Options,
) -> Result<Vec<GeneratedFile>, Error> {
    options.validate()?;
    let pool =
        DescriptorPool::decode(descriptor_set).map_err(|e| Error::Descriptors(e.to_string()))?;
    let api = registry::build(&pool, files_to_generate).map_err(Error::Invalid)?;

    // prost-build and pbjson-build read plain descriptors; feed them in a fixed order.
    let mut fds = prost_types::FileDescriptorSet::decode(descriptor_set)
        .map_err(|e| Error::Descriptors(e.to_string()))?;
    fds.file.sort_by(|a, b| a.name().cmp(b.name()));

    let mut files = emit::rust_types::emit(&api, &fds).map_err(Error::Emit)?;
    let packages_with_code: Vec<String> = api
        .packages
        .iter()
        .filter(|p| files.iter().any(|f| f.path == format!("src/{p}.rs")))
        .cloned()
        .collect();
    files.extend(emit::support::emit());
    files.push(emit::methods::emit(&api).map_err(Error::Emit)?);
    files.push(emit::descriptor::emit(&pool, &api.files).map_err(Error::Emit)?);
    files.extend(emit::crate_root::emit(&api, options, &packages_with_code).map_err(Error::Emit)?);
    // Both document emitters report their problems together.
    match (
        emit::openapi::emit(&api, options),
        emit::graphql::emit(&api),
    ) {
        (Ok(openapi), Ok(graphql)) => {
            files.extend(openapi);
            files.push(graphql);
        }
        (Err(Error::Invalid(mut a)), Err(Error::Invalid(b))) => {
            a.extend(b);
            return Err(Error::Invalid(a));
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    }
    files.push(emit::docs::emit(&api, options).map_err(Error::Emit)?);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}
