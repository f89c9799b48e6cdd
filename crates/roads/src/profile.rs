//! The car profile: which OSM ways a car may use, in which direction, and how fast.
//!
//! Pure functions over tag values, so the PBF and XML importers (and the tests)
//! share exactly one interpretation of the tags.

/// The road classes a car may use, in decreasing order of importance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HighwayClass {
    Motorway,
    MotorwayLink,
    Trunk,
    TrunkLink,
    Primary,
    PrimaryLink,
    Secondary,
    SecondaryLink,
    Tertiary,
    TertiaryLink,
    Unclassified,
    Residential,
    LivingStreet,
    Service,
}

impl HighwayClass {
    /// Every class, in order of importance.
    pub const ALL: [HighwayClass; 14] = [
        HighwayClass::Motorway,
        HighwayClass::MotorwayLink,
        HighwayClass::Trunk,
        HighwayClass::TrunkLink,
        HighwayClass::Primary,
        HighwayClass::PrimaryLink,
        HighwayClass::Secondary,
        HighwayClass::SecondaryLink,
        HighwayClass::Tertiary,
        HighwayClass::TertiaryLink,
        HighwayClass::Unclassified,
        HighwayClass::Residential,
        HighwayClass::LivingStreet,
        HighwayClass::Service,
    ];

    /// Parses an OSM `highway=*` value; `None` for anything a car does not drive on
    /// (footway, cycleway, construction, proposed, …).
    pub fn from_tag(value: &str) -> Option<Self> {
        Some(match value {
            "motorway" => HighwayClass::Motorway,
            "motorway_link" => HighwayClass::MotorwayLink,
            "trunk" => HighwayClass::Trunk,
            "trunk_link" => HighwayClass::TrunkLink,
            "primary" => HighwayClass::Primary,
            "primary_link" => HighwayClass::PrimaryLink,
            "secondary" => HighwayClass::Secondary,
            "secondary_link" => HighwayClass::SecondaryLink,
            "tertiary" => HighwayClass::Tertiary,
            "tertiary_link" => HighwayClass::TertiaryLink,
            "unclassified" | "road" => HighwayClass::Unclassified,
            "residential" => HighwayClass::Residential,
            "living_street" => HighwayClass::LivingStreet,
            "service" => HighwayClass::Service,
            _ => return None,
        })
    }

    /// The OSM tag value (`road` is folded into `unclassified`).
    pub fn as_tag(self) -> &'static str {
        match self {
            HighwayClass::Motorway => "motorway",
            HighwayClass::MotorwayLink => "motorway_link",
            HighwayClass::Trunk => "trunk",
            HighwayClass::TrunkLink => "trunk_link",
            HighwayClass::Primary => "primary",
            HighwayClass::PrimaryLink => "primary_link",
            HighwayClass::Secondary => "secondary",
            HighwayClass::SecondaryLink => "secondary_link",
            HighwayClass::Tertiary => "tertiary",
            HighwayClass::TertiaryLink => "tertiary_link",
            HighwayClass::Unclassified => "unclassified",
            HighwayClass::Residential => "residential",
            HighwayClass::LivingStreet => "living_street",
            HighwayClass::Service => "service",
        }
    }

    /// Default free-flow speed in km/h when the way has no usable `maxspeed`.
    /// Urban Chinese limits: expressways 100, urban trunk 80, arterials 60/50.
    pub fn default_speed_kmh(self) -> f64 {
        match self {
            HighwayClass::Motorway => 100.0,
            HighwayClass::MotorwayLink => 60.0,
            HighwayClass::Trunk => 80.0,
            HighwayClass::TrunkLink => 50.0,
            HighwayClass::Primary => 60.0,
            HighwayClass::PrimaryLink => 40.0,
            HighwayClass::Secondary => 50.0,
            HighwayClass::SecondaryLink => 40.0,
            HighwayClass::Tertiary => 40.0,
            HighwayClass::TertiaryLink => 30.0,
            HighwayClass::Unclassified => 30.0,
            HighwayClass::Residential => 30.0,
            HighwayClass::LivingStreet => 10.0,
            HighwayClass::Service => 15.0,
        }
    }

    /// Whether a way of this class is one-way when it carries no `oneway` tag.
    pub fn implies_oneway(self) -> bool {
        matches!(self, HighwayClass::Motorway | HighwayClass::MotorwayLink)
    }

    /// Classes at least as important as `Tertiary`: the arterial network a
    /// zoomed-out map shows.
    pub fn is_arterial(self) -> bool {
        self <= HighwayClass::TertiaryLink
    }
}

/// Which directions of a way a car may travel, relative to the order of its nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Both,
    Forward,
    Backward,
}

impl Direction {
    pub fn forward(self) -> bool {
        matches!(self, Direction::Both | Direction::Forward)
    }

    pub fn backward(self) -> bool {
        matches!(self, Direction::Both | Direction::Backward)
    }

    pub fn is_oneway(self) -> bool {
        self != Direction::Both
    }
}

/// Parses `maxspeed` into km/h: `50`, `50 km/h`, `30 mph`, `50;30` (first value).
/// Zone codes (`RU:urban`), `none`, `signals`, `walk` and garbage give `None`, so
/// the class default applies.
pub fn parse_maxspeed_kmh(value: &str) -> Option<f64> {
    let first = value.split(';').next()?.trim();
    let (number, factor) = if let Some(n) = first.strip_suffix("mph") {
        (n.trim(), 1.609_344)
    } else if let Some(n) = first.strip_suffix("km/h") {
        (n.trim(), 1.0)
    } else if let Some(n) = first.strip_suffix("kmh") {
        (n.trim(), 1.0)
    } else if let Some(n) = first.strip_suffix("knots") {
        (n.trim(), 1.852)
    } else {
        (first, 1.0)
    };
    let v: f64 = number.parse().ok()?;
    (v.is_finite() && v > 0.0 && v <= 300.0).then_some(v * factor)
}

/// The direction a car may use a way in, or `None` when the way is closed to
/// normal routing (`oneway=reversible`/`alternating`: direction changes with time).
pub fn direction(
    class: HighwayClass,
    oneway: Option<&str>,
    junction: Option<&str>,
) -> Option<Direction> {
    match oneway.map(str::trim) {
        Some("yes" | "true" | "1") => Some(Direction::Forward),
        Some("-1" | "reverse") => Some(Direction::Backward),
        Some("no" | "false" | "0") => Some(Direction::Both),
        Some("reversible" | "alternating") => None,
        _ => {
            let roundabout = matches!(junction, Some("roundabout" | "circular"));
            if roundabout || class.implies_oneway() {
                Some(Direction::Forward)
            } else {
                Some(Direction::Both)
            }
        }
    }
}

/// Whether a car may enter, from the access tags. The most specific tag present
/// wins (`motorcar` over `motor_vehicle` over `vehicle` over `access`), so
/// `access=no` + `motor_vehicle=yes` is open and `access=yes` + `motorcar=private`
/// is closed.
pub fn car_allowed(
    access: Option<&str>,
    vehicle: Option<&str>,
    motor_vehicle: Option<&str>,
    motorcar: Option<&str>,
) -> bool {
    let decisive = motorcar.or(motor_vehicle).or(vehicle).or(access);
    !matches!(
        decisive.map(str::trim),
        Some(
            "no" | "private"
                | "agricultural"
                | "forestry"
                | "emergency"
                | "military"
                | "discouraged"
        )
    )
}

/// The routable summary of one way's tags; `None` when a car may not use it.
#[derive(Debug, Clone, PartialEq)]
pub struct WayProfile {
    pub class: HighwayClass,
    pub direction: Direction,
    pub speed_kmh: f64,
    pub name: Option<String>,
    pub name_zh: Option<String>,
}

/// Tags of one way, gathered by the importers before deciding (only the keys the
/// profile reads).
#[derive(Debug, Default, Clone)]
pub(crate) struct WayTags {
    pub(crate) highway: Option<String>,
    pub(crate) oneway: Option<String>,
    pub(crate) junction: Option<String>,
    pub(crate) maxspeed: Option<String>,
    pub(crate) access: Option<String>,
    pub(crate) vehicle: Option<String>,
    pub(crate) motor_vehicle: Option<String>,
    pub(crate) motorcar: Option<String>,
    pub(crate) area: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) name_zh: Option<String>,
}

impl WayTags {
    /// Records one tag if the profile cares about it.
    pub(crate) fn set(&mut self, key: &str, value: &str) {
        let slot = match key {
            "highway" => &mut self.highway,
            "oneway" => &mut self.oneway,
            "junction" => &mut self.junction,
            "maxspeed" => &mut self.maxspeed,
            "access" => &mut self.access,
            "vehicle" => &mut self.vehicle,
            "motor_vehicle" => &mut self.motor_vehicle,
            "motorcar" => &mut self.motorcar,
            "area" => &mut self.area,
            "name" => &mut self.name,
            "name:zh" => &mut self.name_zh,
            _ => return,
        };
        *slot = Some(value.to_owned());
    }

    /// Applies the car profile.
    pub(crate) fn profile(&self) -> Option<WayProfile> {
        let class = HighwayClass::from_tag(self.highway.as_deref()?)?;
        // `area=yes` highways are squares/plazas drawn as polygons, not roads.
        if self.area.as_deref() == Some("yes") {
            return None;
        }
        if !car_allowed(
            self.access.as_deref(),
            self.vehicle.as_deref(),
            self.motor_vehicle.as_deref(),
            self.motorcar.as_deref(),
        ) {
            return None;
        }
        let direction = direction(class, self.oneway.as_deref(), self.junction.as_deref())?;
        let speed_kmh = self
            .maxspeed
            .as_deref()
            .and_then(parse_maxspeed_kmh)
            .unwrap_or_else(|| class.default_speed_kmh());
        Some(WayProfile {
            class,
            direction,
            speed_kmh,
            name: self.name.clone().filter(|n| !n.trim().is_empty()),
            name_zh: self.name_zh.clone().filter(|n| !n.trim().is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxspeed_units() {
        assert_eq!(parse_maxspeed_kmh("50"), Some(50.0));
        assert_eq!(parse_maxspeed_kmh("50 km/h"), Some(50.0));
        assert_eq!(parse_maxspeed_kmh("60kmh"), Some(60.0));
        assert!((parse_maxspeed_kmh("30 mph").unwrap() - 48.280_32).abs() < 1e-9);
        assert_eq!(parse_maxspeed_kmh("40;30"), Some(40.0));
        assert_eq!(parse_maxspeed_kmh("RU:urban"), None);
        assert_eq!(parse_maxspeed_kmh("none"), None);
        assert_eq!(parse_maxspeed_kmh("signals"), None);
        assert_eq!(parse_maxspeed_kmh("0"), None);
        assert_eq!(parse_maxspeed_kmh("-5"), None);
    }

    #[test]
    fn oneway_rules() {
        let r = HighwayClass::Residential;
        assert_eq!(direction(r, None, None), Some(Direction::Both));
        for v in ["yes", "true", "1"] {
            assert_eq!(direction(r, Some(v), None), Some(Direction::Forward));
        }
        assert_eq!(direction(r, Some("-1"), None), Some(Direction::Backward));
        assert_eq!(direction(r, Some("no"), None), Some(Direction::Both));
        assert_eq!(direction(r, Some("reversible"), None), None);
        assert_eq!(
            direction(r, None, Some("roundabout")),
            Some(Direction::Forward)
        );
        assert_eq!(
            direction(HighwayClass::Motorway, None, None),
            Some(Direction::Forward)
        );
        assert_eq!(
            direction(HighwayClass::Motorway, Some("no"), None),
            Some(Direction::Both)
        );
    }

    #[test]
    fn access_most_specific_wins() {
        assert!(car_allowed(None, None, None, None));
        assert!(!car_allowed(Some("no"), None, None, None));
        assert!(!car_allowed(Some("private"), None, None, None));
        assert!(car_allowed(Some("no"), None, Some("yes"), None));
        assert!(!car_allowed(Some("yes"), None, None, Some("private")));
        assert!(!car_allowed(None, None, Some("no"), None));
        assert!(car_allowed(Some("destination"), None, None, None));
    }

    #[test]
    fn profile_from_tags() {
        let mut t = WayTags::default();
        t.set("highway", "primary");
        t.set("name", "人民路");
        t.set("maxspeed", "30 mph");
        t.set("ignored", "x");
        let p = t.profile().unwrap();
        assert_eq!(p.class, HighwayClass::Primary);
        assert_eq!(p.direction, Direction::Both);
        assert_eq!(p.name.as_deref(), Some("人民路"));
        assert!((p.speed_kmh - 48.280_32).abs() < 1e-9);

        let mut t = WayTags::default();
        t.set("highway", "footway");
        assert_eq!(t.profile(), None);

        let mut t = WayTags::default();
        t.set("highway", "service");
        t.set("access", "private");
        assert_eq!(t.profile(), None);

        let mut t = WayTags::default();
        t.set("highway", "pedestrian");
        assert_eq!(t.profile(), None);

        let mut t = WayTags::default();
        t.set("highway", "tertiary");
        assert_eq!(t.profile().unwrap().speed_kmh, 40.0);
    }
}
