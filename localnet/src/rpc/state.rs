//! `StateService`: objects an address owns, and SUI balances.

use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Address, StructTag, TypeTag};
use tonic::{Request, Response, Status};

use super::{Rpc, mask, object_proto, parse_address};

/// Default read mask of `ListOwnedObjects`.
pub const OWNED_MASK: &str = "object_id,version,object_type";
/// Default and largest page of `ListOwnedObjects`.
pub const DEFAULT_PAGE: u32 = 50;
/// Largest page of `ListOwnedObjects` and `ListDynamicFields`.
pub const MAX_PAGE: u32 = 1_000;
/// Default read mask of `ListDynamicFields`.
pub const FIELDS_MASK: &str = "parent,field_id";

fn bcs_value(name: String, value: &[u8]) -> proto::Bcs {
    proto::Bcs::default().with_name(name).with_value(value.to_vec())
}

/// Whether `tag` matches a type filter: a full struct tag, or a tag without
/// type parameters that matches every instantiation (`0x2::coin::Coin`).
fn matches_type(tag: &StructTag, filter: &StructTag) -> bool {
    tag.address() == filter.address()
        && tag.module() == filter.module()
        && tag.name() == filter.name()
        && (filter.type_params().is_empty() || tag.type_params() == filter.type_params())
}

fn is_sui(coin_type: &str) -> Result<bool, Status> {
    let tag: StructTag =
        coin_type.parse().map_err(|e| Status::invalid_argument(format!("coin_type {coin_type:?}: {e}")))?;
    Ok(tag == StructTag::sui())
}

fn sui_balance(total: u64) -> proto::Balance {
    proto::Balance::default()
        .with_coin_type(TypeTag::from(StructTag::sui()).to_string())
        .with_balance(total)
        .with_coin_balance(total)
        .with_address_balance(0)
}

#[tonic::async_trait]
impl proto::state_service_server::StateService for Rpc {
    async fn list_owned_objects(
        &self,
        request: Request<proto::ListOwnedObjectsRequest>,
    ) -> Result<Response<proto::ListOwnedObjectsResponse>, Status> {
        let request = request.into_inner();
        let owner = parse_address("owner", request.owner.as_deref())?;
        let filter: Option<StructTag> = match request.object_type.as_deref() {
            None | Some("") => None,
            Some(t) => Some(t.parse().map_err(|e| Status::invalid_argument(format!("object_type {t:?}: {e}")))?),
        };
        let page = request.page_size.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as usize;
        let after: Option<Address> = match &request.page_token {
            None => None,
            Some(t) => {
                Some(Address::from_bytes(t).map_err(|_| Status::invalid_argument("page_token is not one of ours"))?)
            }
        };
        let m = mask(request.read_mask.as_ref(), OWNED_MASK);
        let response = self.node.with_ledger(|chain| {
            let mut objects = Vec::new();
            let mut next = None;
            for id in chain.objects.owned_by(&owner).filter(|id| after.is_none_or(|a| **id > a)) {
                let Some(object) = chain.objects.get(id) else { continue };
                let matched = match (&filter, object.as_struct()) {
                    (None, _) => true,
                    (Some(f), Some(s)) => matches_type(s.object_type(), f),
                    (Some(_), None) => false,
                };
                if !matched {
                    continue;
                }
                if objects.len() == page {
                    next = objects.last().map(|(id, _): &(Address, proto::Object)| *id);
                    break;
                }
                objects.push((*id, object_proto(chain, object, &m)));
            }
            let mut response = proto::ListOwnedObjectsResponse::default();
            response.next_page_token = next.map(|id| id.into_inner().to_vec().into());
            response.objects = objects.into_iter().map(|(_, o)| o).collect();
            response
        });
        Ok(Response::new(response))
    }

    async fn get_balance(
        &self,
        request: Request<proto::GetBalanceRequest>,
    ) -> Result<Response<proto::GetBalanceResponse>, Status> {
        let request = request.into_inner();
        let owner = parse_address("owner", request.owner.as_deref())?;
        let coin_type =
            request.coin_type.as_deref().ok_or_else(|| Status::invalid_argument("coin_type is required"))?;
        let total = if is_sui(coin_type)? { self.node.with_ledger(|chain| sui_total(chain, &owner)) } else { 0 };
        let mut balance = sui_balance(total);
        balance.coin_type = Some(coin_type.to_string());
        Ok(Response::new(proto::GetBalanceResponse::default().with_balance(balance)))
    }

    async fn list_balances(
        &self,
        request: Request<proto::ListBalancesRequest>,
    ) -> Result<Response<proto::ListBalancesResponse>, Status> {
        let request = request.into_inner();
        let owner = parse_address("owner", request.owner.as_deref())?;
        let total = self.node.with_ledger(|chain| sui_total(chain, &owner));
        let balances = if total > 0 { vec![sui_balance(total)] } else { Vec::new() };
        Ok(Response::new(proto::ListBalancesResponse::default().with_balances(balances)))
    }

    /// SUI's metadata and supply as Sui's genesis creates them; the local
    /// network has no other coin.
    async fn get_coin_info(
        &self,
        request: Request<proto::GetCoinInfoRequest>,
    ) -> Result<Response<proto::GetCoinInfoResponse>, Status> {
        let coin_type = request.into_inner().coin_type.unwrap_or_default();
        if coin_type.is_empty() {
            return Err(Status::invalid_argument("coin_type is required"));
        }
        if !is_sui(&coin_type)? {
            return Err(Status::not_found(format!("Coin type {coin_type} not found")));
        }
        let mut metadata = proto::CoinMetadata::default();
        metadata.decimals = Some(9);
        metadata.name = Some("Sui".into());
        metadata.symbol = Some("SUI".into());
        metadata.description = Some(String::new());
        let mut treasury = proto::CoinTreasury::default();
        treasury.total_supply = Some(10_000_000_000_000_000_000);
        treasury.supply_state = Some(proto::coin_treasury::SupplyState::Fixed as i32);
        let mut response = proto::GetCoinInfoResponse::default();
        response.coin_type = Some(coin_type);
        response.metadata = Some(metadata);
        response.treasury = Some(treasury);
        Ok(Response::new(response))
    }

    async fn list_dynamic_fields(
        &self,
        request: Request<proto::ListDynamicFieldsRequest>,
    ) -> Result<Response<proto::ListDynamicFieldsResponse>, Status> {
        let request = request.into_inner();
        let parent = parse_address("parent", request.parent.as_deref())?;
        let page = request.page_size.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as usize;
        let after: Option<Address> = match &request.page_token {
            None => None,
            Some(t) => {
                Some(Address::from_bytes(t).map_err(|_| Status::invalid_argument("page_token is not one of ours"))?)
            }
        };
        let m = mask(request.read_mask.as_ref(), FIELDS_MASK);
        let response = self.node.with_ledger(|chain| {
            let mut fields = crate::fields::fields_of(chain, &parent).map(|(_, f)| f).unwrap_or_default();
            fields.sort_by_key(|f| f.id);
            fields.retain(|f| after.is_none_or(|a| f.id > a));
            let more = fields.len() > page;
            fields.truncate(page);
            let network = chain.objects.get(&chain.identity.network_id);
            let mut response = proto::ListDynamicFieldsResponse::default();
            response.next_page_token = more.then(|| fields.last().map(|f| f.id.into_inner().to_vec().into())).flatten();
            response.dynamic_fields = fields
                .iter()
                .map(|f| {
                    let mut d = proto::DynamicField::default();
                    let has = |path: &str| m.contains(path);
                    d.kind = has("kind").then_some(proto::dynamic_field::DynamicFieldKind::Field as i32);
                    d.parent = has("parent").then(|| f.parent.to_string());
                    d.field_id = has("field_id").then(|| f.id.to_string());
                    d.name = has("name").then(|| bcs_value(f.name_type.to_string(), &f.name));
                    d.value = has("value").then(|| bcs_value(f.value_type.to_string(), &f.value));
                    d.value_type = has("value_type").then(|| f.value_type.to_string());
                    if let (Some(sub), Some(n)) = (m.subtree("field_object"), network) {
                        let object = f.object(n.version(), n.previous_transaction());
                        d.field_object = Some(object_proto(chain, &object, &sub));
                    }
                    d
                })
                .collect();
            response
        });
        Ok(Response::new(response))
    }
}

fn sui_total(chain: &crate::ledger::Ledger, owner: &Address) -> u64 {
    chain.objects.coins_of(owner).iter().map(|(_, balance)| balance).sum()
}
