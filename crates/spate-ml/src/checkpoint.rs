//! Checkpoint loading that validates what it reads.

/// Implement `Serialize` as derived and `Deserialize` as derived followed by a check, for a
/// type that derives both with `#[serde(remote = "Self")]` (which turns the derived code into
/// inherent functions), so the field list is written once.
macro_rules! validated_serde {
    ($ty:ty, $check:path $(, $param:ident : $bound:path)?) => {
        impl$(<$param: $bound>)? serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                <$ty>::serialize(self, s)
            }
        }

        impl<'de $(, $param: $bound)?> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let value = <$ty>::deserialize(d)?;
                $check(&value).map_err(serde::de::Error::custom)?;
                Ok(value)
            }
        }
    };
}

pub(crate) use validated_serde;
