// Login page: POST /auth/login, keep the token in sessionStorage, land on the role's home.

import { ApiError, request } from '../api';
import { homeFor, saveSession } from '../auth';
import { lang, setLang, t } from '../i18n';
import type { LoginResponse } from '../types';
import { errorText, h } from '../ui';

export function loginView(el: HTMLElement): void {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const message = h('div.form-message', { role: 'alert' });
  const submit = h('button.primary', { type: 'submit' }, t('login.submit'));
  const form = h('form.login-card', {
    onsubmit: async (ev: Event) => {
      ev.preventDefault();
      message.textContent = '';
      submit.disabled = true;
      try {
        const res = await request<LoginResponse>('/auth/login', {
          method: 'POST', auth: false, body: { username: username.value.trim(), password: password.value },
        });
        saveSession(res.token, res.user);
        location.hash = `#/${homeFor(res.user.role) ?? 'login'}`;
      } catch (e) {
        message.textContent = t('login.failed', { message: e instanceof ApiError ? e.message : errorText(e) });
      } finally {
        submit.disabled = false;
      }
    },
  },
    h('h1', {}, t('app.title')),
    h('label.field', {}, h('span', {}, t('login.username')), username),
    h('label.field', {}, h('span', {}, t('login.password')), password),
    submit,
    message,
    h('div.login-foot', {},
      h('a', { href: '#/portal' }, t('login.portal')),
      h('button.link', { type: 'button', id: 'lang-switch', onclick: () => setLang(lang() === 'zh' ? 'en' : 'zh') }, t('lang.switch'))),
  );
  el.append(form);
  username.focus();
}
