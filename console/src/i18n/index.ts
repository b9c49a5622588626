import { createI18n } from "vue-i18n";
import zhCN from "./zh-CN";
import en from "./en";
import opsZhCN from "./ops.zh-CN";
import opsEn from "./ops.en";

const KEY = "loyalty.console.locale";
const saved = globalThis.localStorage?.getItem(KEY);

// zh-CN is the default; the choice is kept in this browser.
export const i18n = createI18n({
  legacy: false,
  locale: saved === "en" ? "en" : "zh-CN",
  fallbackLocale: "zh-CN",
  messages: { "zh-CN": { ...zhCN, ops: opsZhCN }, en: { ...en, ops: opsEn } },
});

export function setLocale(locale: "zh-CN" | "en"): void {
  i18n.global.locale.value = locale;
  globalThis.localStorage?.setItem(KEY, locale);
  document.documentElement.lang = locale;
}

// The people-and-integrations pages (issue #30, fifth part): their own namespace, merged in here.
import peopleZhCN from "./people.zh-CN";
import peopleEn from "./people.en";
i18n.global.mergeLocaleMessage("zh-CN", { people: peopleZhCN });
i18n.global.mergeLocaleMessage("en", { people: peopleEn });

// A coupon template's rarer terms and its creation (issue #30): their own namespace.
import termsZhCN from "./terms.zh-CN";
import termsEn from "./terms.en";
i18n.global.mergeLocaleMessage("zh-CN", { terms: termsZhCN });
i18n.global.mergeLocaleMessage("en", { terms: termsEn });
