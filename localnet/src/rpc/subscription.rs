//! `SubscriptionService`: the checkpoint stream, from the next checkpoint on,
//! every checkpoint in order and none twice (a client that reconnects reads
//! what it missed with `GetCheckpoint`), and the event stream (see `events`).

use sui_rpc::proto::sui::rpc::v2 as proto;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::{Rpc, checkpoint_proto, mask};

/// Default read mask of `SubscribeCheckpoints`.
pub const SUBSCRIBE_MASK: &str = "sequence_number,digest";
/// Checkpoints buffered per subscriber before it is considered too slow.
const BUFFER: usize = 64;

impl Rpc {
    /// A stream that sends `first(tip)`, then the frames `frames(chain, c)` of
    /// every checkpoint `c` after that tip, in order, until the client goes
    /// away or the server stops.
    fn follow<T: Send + 'static>(
        &self,
        first: impl FnOnce(u64) -> Vec<T>,
        frames: impl Fn(&crate::ledger::Ledger, u64) -> Vec<T> + Send + 'static,
    ) -> BoxStream<T> {
        let node = self.node.clone();
        let shutdown = self.shutdown.clone();
        let mut height = node.watch_height();
        let tip = *height.borrow_and_update();
        let first = first(tip);
        let mut next = tip + 1;
        let (tx, rx) = tokio::sync::mpsc::channel(BUFFER);
        tokio::spawn(async move {
            for f in first {
                if tx.send(Ok(f)).await.is_err() {
                    return;
                }
            }
            loop {
                let tip = *height.borrow_and_update();
                while next <= tip {
                    for f in node.with_ledger(|chain| frames(chain, next)) {
                        if tx.send(Ok(f)).await.is_err() {
                            return;
                        }
                    }
                    next += 1;
                }
                tokio::select! {
                    changed = height.changed() => if changed.is_err() { return },
                    _ = shutdown.cancelled() => return,
                }
            }
        });
        Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
    }
}

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
        let stream = self.follow(
            |_| Vec::new(),
            move |chain, sequence| {
                let mut response = proto::SubscribeCheckpointsResponse::default().with_cursor(sequence);
                response.checkpoint = checkpoint_proto(chain, sequence, &m);
                vec![response]
            },
        );
        Ok(Response::new(stream))
    }

    async fn subscribe_transactions(
        &self,
        _request: Request<proto::SubscribeTransactionsRequest>,
    ) -> Result<Response<BoxStream<proto::SubscribeTransactionsResponse>>, Status> {
        Err(Status::unimplemented("SubscribeTransactions is not served by the local network; use SubscribeCheckpoints"))
    }

    async fn subscribe_events(
        &self,
        request: Request<proto::SubscribeEventsRequest>,
    ) -> Result<Response<BoxStream<proto::SubscribeEventsResponse>>, Status> {
        use super::events::{Filter, end_of, events_of, watermark};
        let request = request.into_inner();
        let filter = Filter::new(request.filter.as_ref())?;
        let m = mask(request.read_mask.as_ref(), "checkpoint,transaction_index,event_index,event_type");
        // First a progress frame at the tip, then every new checkpoint's events and its progress.
        let first = |tip| vec![proto::SubscribeEventsResponse::default().with_watermark(watermark(end_of(tip)))];
        let stream = self.follow(first, move |chain, sequence| {
            let mut frames: Vec<proto::SubscribeEventsResponse> = events_of(chain, sequence, filter.as_ref(), &m)
                .into_iter()
                .map(|(p, e)| proto::SubscribeEventsResponse::default().with_event(e).with_watermark(watermark(p)))
                .collect();
            frames.push(proto::SubscribeEventsResponse::default().with_watermark(watermark(end_of(sequence))));
            frames
        });
        Ok(Response::new(stream))
    }
}
