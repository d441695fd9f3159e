//! `MovePackageService`: the package's interface as a Sui full node
//! describes it (`GetPackage`, `GetDatatype`, `GetFunction`,
//! `ListPackageVersions`), read from the Move sources compiled into the
//! local network: each module's functions (visibility, entry, parameters,
//! returns) and datatypes (structs' fields, enums' variants, abilities).
//! Names are resolved with the module's `use` declarations and Move 2024's
//! implicit ones; the bytecode is not served (there is none here).
//!
//! Not for: running functions (see `calls`).

use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::Address;
use tonic::{Request, Response, Status};

use super::{Rpc, parse_address};
use crate::sources::{Module, SOURCES};

impl Rpc {
    fn package_id(&self, field: Option<&str>) -> Result<Address, Status> {
        let id = parse_address("package_id", field)?;
        let package = self.node.with_ledger(|c| c.identity.package);
        if id != package {
            return Err(Status::not_found(format!("package {id} does not exist (this network has {package})")));
        }
        Ok(package)
    }

    /// A function or datatype of a module, found by `find`, or `NotFound` naming it.
    fn member<T>(
        &self,
        package_id: &Option<String>,
        module_name: &Option<String>,
        name: &Option<String>,
        what: &str,
        find: impl FnOnce(&Module<'static>, &str) -> Option<T>,
    ) -> Result<T, Status> {
        let package = self.package_id(package_id.as_deref())?;
        let module = self.module(package, module_name.as_deref())?;
        let name = name.as_deref().ok_or_else(|| Status::invalid_argument("name is required"))?;
        find(&module, name)
            .ok_or_else(|| Status::not_found(format!("{what} {package}::{}::{name} does not exist", module.name)))
    }

    fn module(&self, package: Address, name: Option<&str>) -> Result<Module<'static>, Status> {
        let name = name.ok_or_else(|| Status::invalid_argument("module_name is required"))?;
        SOURCES
            .iter()
            .find(|(m, _)| *m == name)
            .map(|(m, source)| Module::new(m, source, package))
            .ok_or_else(|| Status::not_found(format!("module {name} does not exist in package {package}")))
    }
}

#[tonic::async_trait]
impl proto::move_package_service_server::MovePackageService for Rpc {
    async fn get_package(
        &self,
        request: Request<proto::GetPackageRequest>,
    ) -> Result<Response<proto::GetPackageResponse>, Status> {
        let package = self.package_id(request.get_ref().package_id.as_deref())?;
        let mut p = proto::Package::default()
            .with_storage_id(package.to_string())
            .with_original_id(package.to_string())
            .with_version(1);
        for (name, source) in SOURCES {
            let module = Module::new(name, source, package);
            let m = proto::Module::default()
                .with_name(*name)
                .with_datatypes(module.datatypes())
                .with_functions(module.functions());
            for d in &m.datatypes {
                let mut origin =
                    proto::TypeOrigin::default().with_module_name(*name).with_package_id(package.to_string());
                origin.datatype_name = d.name.clone();
                p.type_origins.push(origin);
            }
            p.modules.push(m);
        }
        Ok(Response::new(proto::GetPackageResponse::default().with_package(p)))
    }

    async fn get_datatype(
        &self,
        request: Request<proto::GetDatatypeRequest>,
    ) -> Result<Response<proto::GetDatatypeResponse>, Status> {
        let r = request.into_inner();
        let datatype = self.member(&r.package_id, &r.module_name, &r.name, "datatype", |m, name| {
            m.datatypes().into_iter().find(|d| d.name.as_deref() == Some(name))
        })?;
        Ok(Response::new(proto::GetDatatypeResponse::default().with_datatype(datatype)))
    }

    async fn get_function(
        &self,
        request: Request<proto::GetFunctionRequest>,
    ) -> Result<Response<proto::GetFunctionResponse>, Status> {
        let r = request.into_inner();
        let function = self.member(&r.package_id, &r.module_name, &r.name, "function", |m, name| {
            m.functions().into_iter().find(|f| f.name.as_deref() == Some(name))
        })?;
        Ok(Response::new(proto::GetFunctionResponse::default().with_function(function)))
    }

    async fn list_package_versions(
        &self,
        request: Request<proto::ListPackageVersionsRequest>,
    ) -> Result<Response<proto::ListPackageVersionsResponse>, Status> {
        let package = self.package_id(request.get_ref().package_id.as_deref())?;
        let version = proto::PackageVersion::default().with_package_id(package.to_string()).with_version(1);
        Ok(Response::new(proto::ListPackageVersionsResponse::default().with_versions(vec![version])))
    }
}
