//! A deserializer adaptor that refuses a JSON array where an object is
//! expected. serde's derived structs also accept their fields positionally
//! (`["admin", "secret"]` for `{"username", "password"}`), which would let a
//! client's `[lng, lat]` pair silently become `{lat, lng}`; request bodies are
//! parsed through [`Strict`] so that is a 422 naming the field instead.
//!
//! It also refuses text holding U+0000, which PostgreSQL cannot store.
//!
//! The adaptor wraps the deserializer at every depth: each visitor, sequence,
//! map, enum and seed it hands out is wrapped again, and only
//! `deserialize_struct` (and struct variants) turn a sequence away. What serde
//! buffers itself escapes it: inside an internally tagged or untagged enum, or
//! a flattened field, a positional array is still taken for a struct.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

/// The message a struct given as an array fails with.
pub(crate) const ARRAY_FOR_OBJECT: &str = "expected a JSON object, got an array";

/// Wraps a deserializer so structs must come as JSON objects.
pub(crate) struct Strict<D>(pub(crate) D);

/// A visitor passed through: nested deserializers are wrapped again; with
/// `object_only` a sequence is refused.
struct Wrap<V> {
    inner: V,
    object_only: bool,
}

fn wrap<V>(inner: V) -> Wrap<V> {
    Wrap {
        inner,
        object_only: false,
    }
}

macro_rules! forward_deserialize {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                self.0.$method(wrap(visitor))
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward_deserialize!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_unit_struct(name, wrap(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_newtype_struct(name, wrap(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple(len, wrap(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple_struct(name, len, wrap(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_struct(
            name,
            fields,
            Wrap {
                inner: visitor,
                object_only: true,
            },
        )
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, wrap(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.inner.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit!(
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_f64(f64),
        visit_char(char),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    );

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        no_nul(v)?;
        self.inner.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        no_nul(v)?;
        self.inner.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        no_nul(&v)?;
        self.inner.visit_string(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(Strict(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(Strict(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        if self.object_only {
            return Err(de::Error::custom(ARRAY_FOR_OBJECT));
        }
        self.inner.visit_seq(Seq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(Map(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(Enum(data))
    }
}

/// Refuses text with U+0000 (PostgreSQL cannot store it).
fn no_nul<E: de::Error>(v: &str) -> Result<(), E> {
    if v.contains('\0') {
        return Err(E::custom(crate::error::NUL_MESSAGE));
    }
    Ok(())
}

/// A seed whose deserializer is wrapped.
struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(Strict(d))
    }
}

struct Seq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct Map<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        self.0.next_key_seed(Seed(seed))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct Enum<A>(A);

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<A> {
    type Error = A::Error;
    type Variant = Variant<A::Variant>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Self::Error> {
        let (value, variant) = self.0.variant_seed(Seed(seed))?;
        Ok((value, Variant(variant)))
    }
}

struct Variant<A>(A);

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.tuple_variant(len, wrap(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.struct_variant(
            fields,
            Wrap {
                inner: visitor,
                object_only: true,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::Strict;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Point {
        lat: f64,
        lng: f64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Shape {
        Circle { center: Point, radius_m: f64 },
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Body {
        at: Point,
        #[serde(default)]
        path: Vec<Point>,
        pair: Option<(u8, u8)>,
        shape: Option<Shape>,
        extra: Option<serde_json::Value>,
    }

    fn parse<T: for<'de> Deserialize<'de>>(s: &str) -> Result<T, String> {
        let de = &mut serde_json::Deserializer::from_str(s);
        serde_path_to_error::deserialize(Strict(de))
            .map_err(|e| format!("{} @ {}", e.inner(), e.path()))
    }

    #[test]
    fn objects_lists_tuples_and_free_json_still_parse() {
        let b: Body = parse(
            r#"{"at": {"lat": 30.6, "lng": 104.1}, "path": [{"lat": 1, "lng": 2}], "pair": [1, 2],
                "shape": {"type": "circle", "center": {"lat": 0, "lng": 0}, "radius_m": 5},
                "extra": [[1, 2], {"a": [3]}]}"#,
        )
        .unwrap();
        assert_eq!(
            b.at,
            Point {
                lat: 30.6,
                lng: 104.1
            }
        );
        assert_eq!(b.path, [Point { lat: 1.0, lng: 2.0 }]);
        assert_eq!(b.pair, Some((1, 2)));
        assert_eq!(b.extra, Some(serde_json::json!([[1, 2], {"a": [3]}])));
        assert!(matches!(b.shape, Some(Shape::Circle { radius_m, .. }) if radius_m == 5.0));
    }

    #[test]
    fn an_array_for_an_object_names_where() {
        let top = parse::<Point>("[30.6, 104.1]").unwrap_err();
        assert!(top.starts_with(super::ARRAY_FOR_OBJECT), "{top}");
        let nested = parse::<Body>(r#"{"at": [104.1, 30.6]}"#).unwrap_err();
        assert!(nested.ends_with("@ at"), "{nested}");
        let in_list = parse::<Body>(
            r#"{"at": {"lat": 1, "lng": 2}, "path": [{"lat": 1, "lng": 2}, [3, 4]]}"#,
        )
        .unwrap_err();
        assert!(in_list.ends_with("@ path[1]"), "{in_list}");
        let nul = parse::<Body>(r#"{"at": {"lat": 1, "lng": 2}, "extra": {"k": ["a\u0000b"]}}"#)
            .unwrap_err();
        assert!(
            nul.starts_with(crate::error::NUL_MESSAGE) && nul.ends_with("@ extra.k[0]"),
            "{nul}"
        );
    }
}
