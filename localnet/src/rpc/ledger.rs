//! `LedgerService`: service info, objects, transactions, checkpoints, the epoch.

use sui_rpc::proto::sui::rpc::v2 as proto;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::{Rpc, checkpoint_proto, mask, object_proto, parse_address, parse_digest, timestamp, transaction_proto};
use crate::ledger::Ledger;

/// Read masks used when a request gives none.
pub const OBJECT_MASK: &str = "object_id,version,digest";
/// Default read mask of `GetTransaction`.
pub const TRANSACTION_MASK: &str = "digest";
/// Default read mask of `GetCheckpoint`.
pub const CHECKPOINT_MASK: &str = "sequence_number,digest";
/// Default read mask of `GetEpoch`.
pub const EPOCH_MASK: &str = "epoch,first_checkpoint,last_checkpoint,start,end,reference_gas_price";
/// Largest batch of `BatchGetObjects` and `BatchGetTransactions`.
pub const MAX_BATCH: usize = 1_000;

fn get_object(
    chain: &Ledger,
    request: &proto::GetObjectRequest,
    default_mask: Option<&prost_types::FieldMask>,
) -> Result<proto::Object, Status> {
    let id = parse_address("object_id", request.object_id.as_deref())?;
    let m = mask(request.read_mask.as_ref().or(default_mask), OBJECT_MASK);
    let object = match request.version {
        Some(v) => chain.objects.get_version(&id, v),
        None => chain.objects.get(&id),
    };
    let field = match (object, request.version) {
        (None, None) => crate::fields::field_object(chain, &id),
        _ => None,
    };
    match object.or(field.as_ref()) {
        Some(o) => Ok(object_proto(chain, o, &m)),
        None => Err(match (request.version, chain.objects.deleted_at(&id)) {
            (Some(v), _) => Status::not_found(format!("object {id} at version {v} not found")),
            (None, Some(v)) => Status::not_found(format!("object {id} was deleted at version {v}")),
            (None, None) if id == chain.identity.package => Status::not_found(format!(
                "{id} is the atoma package, which the local network runs natively: it holds no bytecode object"
            )),
            (None, None) => Status::not_found(format!("object {id} not found")),
        }),
    }
}

fn get_transaction(
    chain: &Ledger,
    digest: Option<&str>,
    m: &sui_rpc::field::FieldMaskTree,
) -> Result<proto::ExecutedTransaction, Status> {
    let digest = parse_digest("digest", digest)?;
    let tx = chain.txs.get(&digest).ok_or_else(|| Status::not_found(format!("transaction {digest} not found")))?;
    Ok(transaction_proto(chain, &digest, tx, m))
}

/// The version of the local network's rules, which never change.
pub const PROTOCOL_VERSION: u64 = 1;

/// The system state as far as the local network has one: one epoch that
/// never ends, no validators, no stake subsidy (fields it has no value for
/// are left out, as a client reads them as unknown).
fn system_state(chain: &Ledger, start_ms: u64) -> proto::SystemState {
    let mut state = proto::SystemState::default();
    state.version = Some(2);
    state.epoch = Some(0);
    state.protocol_version = Some(PROTOCOL_VERSION);
    state.reference_gas_price = Some(chain.identity.reference_gas_price);
    state.epoch_start_timestamp_ms = Some(start_ms);
    state.safe_mode = Some(false);
    let mut parameters = proto::SystemParameters::default();
    parameters.epoch_duration_ms = Some(u64::MAX);
    state.parameters = Some(parameters);
    state
}

/// The limits the local network enforces, named as Sui's protocol config names them.
fn protocol_config() -> proto::ProtocolConfig {
    use crate::execute::{MAX_PURE_ARGUMENT, MAX_TX_BYTES};
    let mut config = proto::ProtocolConfig::default();
    config.protocol_version = Some(PROTOCOL_VERSION);
    config.attributes = [
        ("max_tx_gas", crate::gas::MAX_BUDGET),
        ("max_gas_payment_objects", crate::rpc::simulate::MAX_GAS_COINS as u64),
        ("max_tx_size_bytes", MAX_TX_BYTES as u64),
        ("max_pure_argument_size", MAX_PURE_ARGUMENT as u64),
        // 7,600 MIST a byte of storage: 76 a storage unit, 100 units a byte.
        ("storage_gas_price", crate::gas::STORAGE_COST_PER_BYTE / 100),
        ("obj_data_cost_refundable", 100),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    config
}

fn error_status(status: Status) -> sui_rpc::proto::google::rpc::Status {
    sui_rpc::proto::google::rpc::Status {
        code: status.code() as i32,
        message: status.message().to_string(),
        ..Default::default()
    }
}

#[tonic::async_trait]
impl proto::ledger_service_server::LedgerService for Rpc {
    async fn get_service_info(
        &self,
        _request: Request<proto::GetServiceInfoRequest>,
    ) -> Result<Response<proto::GetServiceInfoResponse>, Status> {
        let info = self.node.with_ledger(|chain| {
            let latest = &chain.checkpoints[chain.checkpoint_height() as usize];
            proto::GetServiceInfoResponse::default()
                .with_chain_id(chain.chain_id().to_string())
                .with_chain("atoma-localnet")
                .with_epoch(0)
                .with_checkpoint_height(chain.checkpoint_height())
                .with_timestamp(timestamp(latest.summary.timestamp_ms))
                .with_lowest_available_checkpoint(0)
                .with_lowest_available_checkpoint_objects(0)
                .with_server(format!("atoma-localnet/{}", env!("CARGO_PKG_VERSION")))
        });
        Ok(Response::new(info))
    }

    async fn get_object(
        &self,
        request: Request<proto::GetObjectRequest>,
    ) -> Result<Response<proto::GetObjectResponse>, Status> {
        let request = request.into_inner();
        let object = self.node.with_ledger(|chain| get_object(chain, &request, None))?;
        Ok(Response::new(proto::GetObjectResponse::new(object)))
    }

    async fn batch_get_objects(
        &self,
        request: Request<proto::BatchGetObjectsRequest>,
    ) -> Result<Response<proto::BatchGetObjectsResponse>, Status> {
        let request = request.into_inner();
        if request.requests.len() > MAX_BATCH {
            return Err(Status::invalid_argument(format!("at most {MAX_BATCH} objects per batch")));
        }
        let objects = self.node.with_ledger(|chain| {
            request
                .requests
                .iter()
                .map(|r| match get_object(chain, r, request.read_mask.as_ref()) {
                    Ok(o) => proto::GetObjectResult::new_object(o),
                    Err(e) => proto::GetObjectResult::new_error(error_status(e)),
                })
                .collect()
        });
        Ok(Response::new(proto::BatchGetObjectsResponse::new(objects)))
    }

    async fn get_transaction(
        &self,
        request: Request<proto::GetTransactionRequest>,
    ) -> Result<Response<proto::GetTransactionResponse>, Status> {
        let request = request.into_inner();
        let m = mask(request.read_mask.as_ref(), TRANSACTION_MASK);
        let tx = self.node.with_ledger(|chain| get_transaction(chain, request.digest.as_deref(), &m))?;
        Ok(Response::new(proto::GetTransactionResponse::new(tx)))
    }

    async fn batch_get_transactions(
        &self,
        request: Request<proto::BatchGetTransactionsRequest>,
    ) -> Result<Response<proto::BatchGetTransactionsResponse>, Status> {
        let request = request.into_inner();
        if request.digests.len() > MAX_BATCH {
            return Err(Status::invalid_argument(format!("at most {MAX_BATCH} transactions per batch")));
        }
        let m = mask(request.read_mask.as_ref(), TRANSACTION_MASK);
        let transactions = self.node.with_ledger(|chain| {
            request
                .digests
                .iter()
                .map(|d| match get_transaction(chain, Some(d), &m) {
                    Ok(t) => proto::GetTransactionResult::new_transaction(t),
                    Err(e) => proto::GetTransactionResult::new_error(error_status(e)),
                })
                .collect()
        });
        Ok(Response::new(proto::BatchGetTransactionsResponse::new(transactions)))
    }

    async fn get_checkpoint(
        &self,
        request: Request<proto::GetCheckpointRequest>,
    ) -> Result<Response<proto::GetCheckpointResponse>, Status> {
        let request = request.into_inner();
        let m = mask(request.read_mask.as_ref(), CHECKPOINT_MASK);
        let checkpoint = self.node.with_ledger(|chain| {
            let sequence = match &request.checkpoint_id {
                None => chain.checkpoint_height(),
                Some(proto::get_checkpoint_request::CheckpointId::SequenceNumber(s)) => *s,
                Some(proto::get_checkpoint_request::CheckpointId::Digest(d)) => {
                    let digest = parse_digest("digest", Some(d))?;
                    chain
                        .checkpoints
                        .iter()
                        .position(|c| c.summary.digest() == digest)
                        .ok_or_else(|| Status::not_found(format!("checkpoint {digest} not found")))?
                        as u64
                }
                Some(_) => return Err(Status::invalid_argument("unknown checkpoint_id kind")),
            };
            checkpoint_proto(chain, sequence, &m).ok_or_else(|| {
                Status::not_found(format!(
                    "checkpoint {sequence} not found; the latest is {}",
                    chain.checkpoint_height()
                ))
            })
        })?;
        Ok(Response::new(proto::GetCheckpointResponse::default().with_checkpoint(checkpoint)))
    }

    async fn get_epoch(
        &self,
        request: Request<proto::GetEpochRequest>,
    ) -> Result<Response<proto::GetEpochResponse>, Status> {
        let request = request.into_inner();
        if let Some(e) = request.epoch
            && e != 0
        {
            return Err(Status::not_found(format!("epoch {e} not found; the local network stays in epoch 0")));
        }
        let m = mask(request.read_mask.as_ref(), EPOCH_MASK);
        let epoch = self.node.with_ledger(|chain| {
            let start_ms = chain.checkpoints[0].summary.timestamp_ms;
            let mut epoch = proto::Epoch::default()
                .with_epoch(0)
                .with_first_checkpoint(0)
                .with_start(timestamp(start_ms))
                .with_reference_gas_price(chain.identity.reference_gas_price);
            epoch.system_state = Some(system_state(chain, start_ms).into());
            epoch.protocol_config = Some(protocol_config());
            epoch
        });
        let epoch: proto::Epoch = sui_rpc::merge::Merge::merge_from(&epoch, &m);
        Ok(Response::new(proto::GetEpochResponse::default().with_epoch(epoch)))
    }

    async fn list_checkpoints(
        &self,
        _request: Request<proto::ListCheckpointsRequest>,
    ) -> Result<Response<BoxStream<proto::ListCheckpointsResponse>>, Status> {
        Err(Status::unimplemented(
            "ListCheckpoints is not served by the local network; read checkpoints with GetCheckpoint",
        ))
    }

    async fn list_transactions(
        &self,
        request: Request<proto::ListTransactionsRequest>,
    ) -> Result<Response<BoxStream<proto::ListTransactionsResponse>>, Status> {
        let request = request.into_inner();
        let m = mask(request.read_mask.as_ref(), "digest");
        let frames = self.node.with_ledger(|chain| super::transactions::list(chain, &request, &m))?;
        Ok(Response::new(Box::pin(futures::stream::iter(frames))))
    }

    async fn list_events(
        &self,
        request: Request<proto::ListEventsRequest>,
    ) -> Result<Response<BoxStream<proto::ListEventsResponse>>, Status> {
        use super::events::{Filter, events_of};
        let request = request.into_inner();
        let filter = Filter::new(request.filter.as_ref())?;
        let scan = super::lists::Scan::new(request.options.as_ref(), request.start_checkpoint, request.end_checkpoint)?;
        let m = mask(request.read_mask.as_ref(), "checkpoint,transaction_index,event_index,event_type");
        let frames = self.node.with_ledger(|chain| {
            scan.frames(chain.checkpoint_height(), |c| {
                let events = events_of(chain, c, filter.as_ref(), &m);
                events.into_iter().map(|(p, e)| (p, proto::ListEventsResponse::default().with_event(e))).collect()
            })
        });
        Ok(Response::new(Box::pin(futures::stream::iter(frames))))
    }
}
