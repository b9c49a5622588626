import { createI18n } from "vue-i18n";
import zhCN from "./zh-CN";
import en from "./en";

const KEY = "loyalty.console.locale";
const saved = globalThis.localStorage?.getItem(KEY);

// zh-CN is the default; the choice is kept in this browser.
export const i18n = createI18n({
  legacy: false,
  locale: saved === "en" ? "en" : "zh-CN",
  fallbackLocale: "zh-CN",
  messages: { "zh-CN": zhCN, en },
});

export function setLocale(locale: "zh-CN" | "en"): void {
  i18n.global.locale.value = locale;
  globalThis.localStorage?.setItem(KEY, locale);
  document.documentElement.lang = locale;
}
