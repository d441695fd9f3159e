//! `SubscriptionService`: the checkpoint stream, from the next checkpoint on,
//! every checkpoint in order and none twice. A client that reconnects reads
//! what it missed with `GetCheckpoint`.

use sui_rpc::proto::sui::rpc::v2 as proto;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::{Rpc, checkpoint_proto, mask};

/// Default read mask of `SubscribeCheckpoints`.
pub const SUBSCRIBE_MASK: &str = "sequence_number,digest";
/// Checkpoints buffered per subscriber before it is considered too slow.
const BUFFER: usize = 64;

#[tonic::async_trait]
impl proto::subscription_service_server::SubscriptionService for Rpc {
    async fn subscribe_checkpoints(
        &self,
        request: Request<proto::SubscribeCheckpointsRequest>,
    ) -> Result<Response<BoxStream<proto::SubscribeCheckpointsResponse>>, Status> {
        let request = request.into_inner();
        if request.filter.is_some() {
            return Err(Status::unimplemented(
                "filtered checkpoint subscriptions are not served by the local network; subscribe without a filter",
            ));
        }
        let m = mask(request.read_mask.as_ref(), SUBSCRIBE_MASK);
        let node = self.node.clone();
        let shutdown = self.shutdown.clone();
        let mut height = node.watch_height();
        let mut next = *height.borrow_and_update() + 1;
        let (tx, rx) = tokio::sync::mpsc::channel(BUFFER);
        tokio::spawn(async move {
            loop {
                let tip = *height.borrow_and_update();
                while next <= tip {
                    let frame = node.with_chain(|chain| checkpoint_proto(chain, next, &m));
                    let Some(checkpoint) = frame else { return };
                    let mut response = proto::SubscribeCheckpointsResponse::default();
                    response.cursor = Some(next);
                    response.checkpoint = Some(checkpoint);
                    if tx.send(Ok(response)).await.is_err() {
                        return;
                    }
                    next += 1;
                }
                tokio::select! {
                    changed = height.changed() => if changed.is_err() { return },
                    _ = shutdown.cancelled() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }

    async fn subscribe_transactions(
        &self,
        _request: Request<proto::SubscribeTransactionsRequest>,
    ) -> Result<Response<BoxStream<proto::SubscribeTransactionsResponse>>, Status> {
        Err(Status::unimplemented("SubscribeTransactions is not served by the local network; use SubscribeCheckpoints"))
    }

    async fn subscribe_events(
        &self,
        _request: Request<proto::SubscribeEventsRequest>,
    ) -> Result<Response<BoxStream<proto::SubscribeEventsResponse>>, Status> {
        Err(Status::unimplemented(
            "SubscribeEvents is not served by the local network; use SubscribeCheckpoints and read each checkpoint's events",
        ))
    }
}
