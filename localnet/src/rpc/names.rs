//! `NameService`: SuiNS is configured on mainnet and testnet only, so a Sui
//! full node of any other chain answers both lookups `Unimplemented` with
//! this message; the local network does the same (wallet UIs ask it for the
//! name of every connected address).

use tonic::{Request, Response, Status};

use super::Rpc;
use sui_rpc::proto::sui::rpc::v2 as proto;

const NOT_CONFIGURED: &str = "SuiNS not configured for this network";

#[tonic::async_trait]
impl proto::name_service_server::NameService for Rpc {
    async fn lookup_name(
        &self,
        _request: Request<proto::LookupNameRequest>,
    ) -> Result<Response<proto::LookupNameResponse>, Status> {
        Err(Status::unimplemented(NOT_CONFIGURED))
    }

    async fn reverse_lookup_name(
        &self,
        _request: Request<proto::ReverseLookupNameRequest>,
    ) -> Result<Response<proto::ReverseLookupNameResponse>, Status> {
        Err(Status::unimplemented(NOT_CONFIGURED))
    }
}
