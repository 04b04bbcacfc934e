use super::ValueError;

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal, $what:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable snake_case name used in storage, the API and emails.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the snake_case name.
            pub fn parse(s: &str) -> Result<Self, $crate::values::ValueError> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::values::ValueError::new($field, s, $what))
            }
        }
    };
}
pub(crate) use named_enum;

named_enum!(
    /// What matters to the person: the reasons for a referral, and what a service helps with.
    Need, "needs", "is not a known need" {
        /// Loneliness or social isolation.
        Loneliness => "loneliness",
        /// Low mood, stress or anxiety.
        LowMood => "low_mood",
        /// Wanting to be more physically active.
        PhysicalActivity => "physical_activity",
        /// Debt or money worries.
        Debt => "debt",
        /// Welfare benefits advice.
        Benefits => "benefits",
        /// Housing problems.
        Housing => "housing",
        /// Support as an unpaid carer.
        CarerSupport => "carer_support",
        /// Living with one or more long-term conditions.
        LongTermCondition => "long_term_condition",
        /// Bereavement.
        Bereavement => "bereavement",
        /// Work, learning or volunteering.
        EmploymentAndLearning => "employment_and_learning",
        /// Food insecurity.
        Food => "food",
        /// Settling in a new country or community.
        NewToTheArea => "new_to_the_area",
    }
);

named_enum!(
    /// How soon the person should be contacted.
    Urgency, "urgency", "is not an urgency" {
        /// Within the service's usual time.
        Routine => "routine",
        /// As soon as possible.
        Urgent => "urgent",
    }
);

impl Need {
    /// How the need reads to a person (in emails and on pages).
    pub fn label(self) -> &'static str {
        match self {
            Need::Loneliness => "Loneliness or isolation",
            Need::LowMood => "Low mood, stress or anxiety",
            Need::PhysicalActivity => "Being more active",
            Need::Debt => "Debt or money worries",
            Need::Benefits => "Benefits advice",
            Need::Housing => "Housing",
            Need::CarerSupport => "Support as a carer",
            Need::LongTermCondition => "Living with a long-term condition",
            Need::Bereavement => "Bereavement",
            Need::EmploymentAndLearning => "Work, learning or volunteering",
            Need::Food => "Food",
            Need::NewToTheArea => "New to the area",
        }
    }

    /// Parses a list of needs, refusing an empty list and collapsing repeats.
    pub fn parse_list<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Vec<Need>, ValueError> {
        let mut needs = items.into_iter().map(Need::parse).collect::<Result<Vec<_>, _>>()?;
        needs.sort();
        needs.dedup();
        if needs.is_empty() {
            return Err(ValueError::new("needs", "", "must name at least one need"));
        }
        Ok(needs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_round_trip_through_their_names() {
        for need in Need::ALL {
            assert_eq!(Need::parse(need.as_str()).unwrap(), *need);
        }
    }

    #[test]
    fn a_need_list_is_sorted_deduplicated_and_never_empty() {
        assert_eq!(Need::parse_list(["debt", "loneliness", "debt"]).unwrap(), vec![Need::Loneliness, Need::Debt]);
        assert_eq!(Need::parse_list([]).unwrap_err().reason, "must name at least one need");
        assert_eq!(Need::parse_list(["debt", "boredom"]).unwrap_err().value, "boredom");
    }
}
