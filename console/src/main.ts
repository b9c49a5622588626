import { createApp } from "vue";
import {
  ElAlert, ElButton, ElCard, ElConfigProvider, ElDatePicker, ElDescriptions, ElDescriptionsItem, ElForm, ElFormItem,
  ElInput, ElInputNumber, ElLoading, ElMenu, ElMenuItem, ElOption, ElRadio, ElRadioButton, ElRadioGroup, ElResult, ElSelect, ElStep, ElSteps, ElTable,
  ElTableColumn, ElTag,
} from "element-plus";
import "element-plus/dist/index.css";
import App from "./App.vue";
import { i18n } from "./i18n";
import { router } from "./router";
import "./style.css";

// The Element Plus components the pages use, registered one by one (the whole library is about
// twice the script): a page that uses another adds it here. A child (ElRadioButton, ElOption,
// ElTableColumn...) is registered by its parent's plugin (ElRadio, ElSelect, ElTable...): list both.
const COMPONENTS = [ElAlert, ElButton, ElCard, ElConfigProvider, ElDatePicker, ElDescriptions, ElDescriptionsItem, ElForm,
  ElFormItem, ElInput, ElInputNumber, ElMenu, ElMenuItem, ElOption, ElRadio, ElRadioButton, ElRadioGroup, ElResult, ElSelect, ElStep, ElSteps, ElTable,
  ElTableColumn, ElTag];

const app = createApp(App).use(i18n).use(router).use(ElLoading);
for (const component of COMPONENTS) app.use(component);
app.mount("#app");
