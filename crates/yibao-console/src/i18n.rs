//! The console's labels: Fluent message catalogues (`locales/zh-CN/console.ftl`,
//! `locales/en/console.ftl`), compiled into the binary. Chinese is the default; the
//! language a user chose is kept in the `yibao_lang` cookie.

use fluent_templates::{LanguageIdentifier, Loader, langid};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "zh-CN",
        // No Unicode isolation marks around arguments: they would end up inside amounts
        // and IDs that staff copy.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The languages the console speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub const COOKIE: &'static str = "yibao_lang";

    /// The language of a cookie value; anything else is the default, Chinese.
    #[must_use]
    pub fn from_code(code: Option<&str>) -> Lang {
        match code {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch in the header.
    #[must_use]
    pub const fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The application's language, for what the application and the engine write in both
    /// (refusal messages, settlement steps).
    #[must_use]
    pub const fn language(self) -> yibao_app::Language {
        match self {
            Lang::Zh => yibao_app::Language::Zh,
            Lang::En => yibao_app::Language::En,
        }
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::Zh => langid!("zh-CN"),
            Lang::En => langid!("en"),
        }
    }

    /// The label `key`; a missing key shows as itself so a gap is visible, never a blank
    /// (the console test checks both catalogues hold the same keys).
    #[must_use]
    pub fn t(self, key: &str) -> String {
        LOCALES.try_lookup(&self.id(), key).unwrap_or_else(|| key.to_owned())
    }

    /// The label `key` with `{ $name }` arguments.
    #[must_use]
    pub fn t_with(self, key: &str, args: &[(&'static str, String)]) -> String {
        let args: std::collections::HashMap<std::borrow::Cow<'static, str>, fluent_templates::fluent_bundle::FluentValue<'_>> =
            args.iter().map(|(name, value)| (std::borrow::Cow::Borrowed(*name), value.clone().into())).collect();
        LOCALES.try_lookup_with_args(&self.id(), key, &args).unwrap_or_else(|| key.to_owned())
    }
}
