//! Masking of personal identifiers in result lists (脱敏).
//!
//! Lists show identifiers masked unless the caller's role allows unmasked access
//! AND a purpose was stated for this request; either alone is not enough. The
//! server decides the role bit and audits the purpose; this module only applies
//! the rule, so it is the same everywhere.

use pingan_core::normalize::mask::{mask_id_number, mask_name, mask_phone, mask_plate};

use crate::search::SearchHit;

/// True when identifiers may be shown in clear.
pub fn may_unmask(role_allows_unmasked: bool, purpose: Option<&str>) -> bool {
    role_allows_unmasked && purpose.is_some_and(|p| !p.trim().is_empty())
}

/// A search hit ready for display.
#[derive(Debug, Clone, PartialEq)]
pub struct DisplayHit {
    pub hit: SearchHit,
    /// False when identifiers are shown in clear.
    pub masked: bool,
}

/// Masks name, ID number, phone and plate unless [`may_unmask`].
pub fn mask_hit(hit: &SearchHit, role_allows_unmasked: bool, purpose: Option<&str>) -> DisplayHit {
    let mut h = hit.clone();
    let masked = !may_unmask(role_allows_unmasked, purpose);
    if masked {
        h.name = h.name.as_deref().map(mask_name);
        h.id_number = h.id_number.as_deref().map(mask_id_number);
        h.phone = h.phone.as_deref().map(mask_phone);
        h.plate = h.plate.as_deref().map(mask_plate);
    }
    DisplayHit { hit: h, masked }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::RecordKey;
    use crate::resolve::RecordId;
    use pingan_core::Timestamp;

    fn hit() -> SearchHit {
        SearchHit {
            record: RecordId(1),
            key: RecordKey([7; 16]),
            score: 1.0,
            source: "户籍".into(),
            category: "population".into(),
            district: Some("锦江区".into()),
            observed_at: Timestamp(0),
            name: Some("王小明".into()),
            address: Some("四川省成都市锦江区红星路1号".into()),
            id_number: Some("11010519491231002X".into()),
            phone: Some("13800138000".into()),
            plate: Some("川A12345".into()),
        }
    }

    #[test]
    fn masked_unless_role_and_purpose() {
        let m = mask_hit(&hit(), false, Some("案件侦办"));
        assert!(m.masked);
        assert_eq!(m.hit.name.as_deref(), Some("王*明"));
        assert_eq!(m.hit.id_number.as_deref(), Some("110105********002X"));
        assert_eq!(m.hit.phone.as_deref(), Some("138****8000"));
        assert_eq!(m.hit.plate.as_deref(), Some("川A***45"));
        assert_eq!(m.hit.address, hit().address);
        assert!(mask_hit(&hit(), true, None).masked);
        assert!(mask_hit(&hit(), true, Some("  ")).masked);
        let clear = mask_hit(&hit(), true, Some("案件侦办"));
        assert!(!clear.masked);
        assert_eq!(clear.hit, hit());
    }
}
