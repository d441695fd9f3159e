//! The one conversion between the protocol's 32-byte ids and addresses and
//! Sui's `Address` (feature `sui`). Both are the same 32 bytes: an object's
//! id on Sui is an address, and Move's `ID` holds one.
//!
//! ```
//! use atoma_protocol::ObjectId;
//! use sui_sdk_types::Address;
//!
//! let id = ObjectId::from_u64(7);
//! assert_eq!(ObjectId::from(Address::from(id)), id);
//! ```

use sui_sdk_types::Address as SuiAddress;

use crate::types::{Address, ObjectId};

impl From<ObjectId> for SuiAddress {
    fn from(id: ObjectId) -> Self {
        SuiAddress::new(id.0)
    }
}

impl From<SuiAddress> for ObjectId {
    fn from(a: SuiAddress) -> Self {
        ObjectId(a.into_inner())
    }
}

impl From<Address> for SuiAddress {
    fn from(a: Address) -> Self {
        SuiAddress::new(a.0)
    }
}

impl From<SuiAddress> for Address {
    fn from(a: SuiAddress) -> Self {
        Address(a.into_inner())
    }
}

impl From<&ObjectId> for SuiAddress {
    fn from(id: &ObjectId) -> Self {
        SuiAddress::from(*id)
    }
}

impl From<&SuiAddress> for ObjectId {
    fn from(a: &SuiAddress) -> Self {
        ObjectId::from(*a)
    }
}

impl From<&Address> for SuiAddress {
    fn from(a: &Address) -> Self {
        SuiAddress::from(*a)
    }
}

impl From<&SuiAddress> for Address {
    fn from(a: &SuiAddress) -> Self {
        Address::from(*a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_addresses_keep_their_bytes() {
        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert_eq!(SuiAddress::from(ObjectId(bytes)).into_inner(), bytes);
        assert_eq!(ObjectId::from(SuiAddress::new(bytes)).0, bytes);
        assert_eq!(SuiAddress::from(Address(bytes)).into_inner(), bytes);
        assert_eq!(Address::from(SuiAddress::new(bytes)).0, bytes);
    }
}
