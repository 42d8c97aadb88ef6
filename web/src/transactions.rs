//! Transactions as their coordinators hold them: per transactional id, the coordinator, the
//! producer id and epoch, the state (Kafka's `TransactionMetadata`), the partitions in the
//! transaction and how long it has been open against its timeout.

use yew::prelude::*;

use crate::Ctx;

#[function_component]
pub fn Transactions() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let txns = &ctx.snapshot.transactions;
    if txns.is_empty() {
        return html! {};
    }
    html! {
        <div class="panel" data-testid="transactions">
            <div class="panel-head"><h2>{ "Transactions" }</h2></div>
            { for txns.iter().map(transaction) }
        </div>
    }
}

fn transaction(t: &kplay_engine::snapshot::TxnView) -> Html {
    let timeout_s = t.timeout_ms / 1000;
    let open = t
        .open_ms
        .map(|ms| format!(" · open {:.1} s of {timeout_s} s", ms as f64 / 1000.0))
        .unwrap_or_default();
    let parts = match t.partitions.is_empty() {
        true => "no partitions".to_string(),
        false => t.partitions.join(", "),
    };
    let (b, pid, epoch) = (t.coordinator, t.producer_id, t.epoch);
    let who = format!("coordinator broker {b} · producer id {pid} epoch {epoch}{open}");
    let testid = format!("txn-{}", t.transactional_id);
    html! {
        <div class="client" data-testid={testid} data-state={t.state}>
            <div class="client-head">
                <strong>{ &t.transactional_id }</strong>
                <span class={classes!("txn-state", t.state)}>{ t.state }</span>
                <span class="meta">{ who }</span>
            </div>
            <div class="client-stats">{ parts }</div>
        </div>
    }
}
