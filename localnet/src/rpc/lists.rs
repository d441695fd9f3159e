//! The scan `ListEvents` and `ListTransactions` share: checkpoints
//! `start..end` (default: genesis to the tip), ascending or descending,
//! after `options.after` and before `options.before`, at most
//! `options.limit` items; each item's frame carries its position's
//! watermark, and the list ends as `sui-rpc`'s stream helpers expect:
//! `ITEM_LIMIT` on the frame of the last item allowed; else one progress
//! frame ending at `CURSOR_BOUND` (a cursor in the scan's direction),
//! `CHECKPOINT_BOUND` (an explicit end, and a descending scan's start) or
//! `LEDGER_TIP` (ascending to the tip). Cursors and watermarks: `events`.

use sui_rpc::proto::sui::rpc::v2 as proto;
use tonic::Status;

use super::events::{DEFAULT_LIMIT, MAX_LIMIT, Position, end_of, parse_cursor, watermark};

/// A list's response frame.
pub trait Frame: Default {
    fn watermarked(self, w: proto::Watermark) -> Self;
    fn ended(self, e: proto::QueryEnd) -> Self;
}

impl Frame for proto::ListEventsResponse {
    fn watermarked(self, w: proto::Watermark) -> Self {
        self.with_watermark(w)
    }
    fn ended(self, e: proto::QueryEnd) -> Self {
        self.with_end(e)
    }
}

impl Frame for proto::ListTransactionsResponse {
    fn watermarked(self, w: proto::Watermark) -> Self {
        self.with_watermark(w)
    }
    fn ended(self, e: proto::QueryEnd) -> Self {
        self.with_end(e)
    }
}

/// What one list asks for.
pub struct Scan {
    after: Option<Position>,
    before: Option<Position>,
    descending: bool,
    limit: usize,
    start: Option<u64>,
    end: Option<u64>,
}

impl Scan {
    /// The scan of a request's options and checkpoint bounds, checked.
    pub fn new(options: Option<&proto::QueryOptions>, start: Option<u64>, end: Option<u64>) -> Result<Scan, Status> {
        let options = options.cloned().unwrap_or_default();
        Ok(Scan {
            after: options.after.as_deref().map(parse_cursor).transpose()?,
            before: options.before.as_deref().map(parse_cursor).transpose()?,
            descending: options.ordering == Some(proto::Ordering::Descending as i32),
            limit: options.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as usize,
            start,
            end,
        })
    }

    /// The frames of the list over a ledger whose tip is `tip`:
    /// `items_of(c)` gives checkpoint `c`'s matching items, ascending, as
    /// frames without their watermark.
    pub fn frames<F: Frame>(&self, tip: u64, items_of: impl Fn(u64) -> Vec<(Position, F)>) -> Vec<Result<F, Status>> {
        let start = self.start.unwrap_or(0);
        let end = self.end.map_or(tip + 1, |e| e.min(tip + 1));
        let in_range = |p: Position| self.after.is_none_or(|a| p > a) && self.before.is_none_or(|b| p < b);
        // Only the checkpoints between the cursors hold items in range.
        let low = start.max(self.after.map_or(0, |a| a.0));
        let high = end.min(self.before.map_or(u64::MAX, |b| b.0.saturating_add(1)));
        let checkpoints: Box<dyn Iterator<Item = u64>> =
            if self.descending { Box::new((low..high).rev()) } else { Box::new(low..high) };
        let mut frames = Vec::new();
        for c in checkpoints {
            let mut items = items_of(c);
            if self.descending {
                items.reverse();
            }
            for (position, frame) in items.into_iter().filter(|(p, _)| in_range(*p)) {
                let frame = frame.watermarked(self.watermark(position, end, false));
                if frames.len() + 1 == self.limit {
                    let end = proto::QueryEnd::default().with_reason(proto::QueryEndReason::ItemLimit);
                    frames.push(Ok(frame.ended(end)));
                    return frames;
                }
                frames.push(Ok(frame));
            }
        }
        let (reason, progress) = self.end_at(start, end);
        let query_end = proto::QueryEnd::default().with_reason(reason);
        frames.push(Ok(F::default().watermarked(self.watermark(progress, end, true)).ended(query_end)));
        frames
    }

    /// The watermark of a position in the scan's direction: its cursor, and
    /// the checkpoints whose every match has been sent. Ascending: those
    /// before it (all of it, at the end of a checkpoint). Descending: those
    /// after its checkpoint, within the scan (`end` exclusive); at the end
    /// of the scan (`finished`) at its start, all from the start on.
    fn watermark(&self, p: Position, end: u64, finished: bool) -> proto::Watermark {
        if !self.descending {
            return watermark(p);
        }
        let mut w = proto::Watermark::default().with_cursor(super::events::cursor(p));
        w.checkpoint = match (finished, self.after) {
            (true, None) => Some(p.0),
            _ => p.0.checked_add(1).filter(|c| *c < end),
        };
        w
    }

    /// Where a list of checkpoints `start..end` that ran out of items stops, and its last progress.
    fn end_at(&self, start: u64, end: u64) -> (proto::QueryEndReason, Position) {
        use proto::QueryEndReason as R;
        match (self.descending, self.after, self.before) {
            (true, Some(after), _) => (R::CursorBound, after),
            (true, None, _) => (R::CheckpointBound, (start, 0, 0)),
            (false, _, Some(before)) => (R::CursorBound, before),
            (false, after, None) => {
                let reason = if self.end.is_some() { R::CheckpointBound } else { R::LedgerTip };
                // After every checkpoint scanned, never before the resume point.
                let last = if end > start { end_of(end - 1) } else { end_of(start.saturating_sub(1)) };
                (reason, after.map_or(last, |a| a.max(last)))
            }
        }
    }
}
