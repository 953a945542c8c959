import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { loadAuthChecks } from '../lab/authChecks';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
mount(App, { target });

// Not needed before the terminal is usable (the first-load budget): fetched once the page is up.
const idle = (globalThis as { requestIdleCallback?: (fn: () => void) => void }).requestIdleCallback ?? ((fn: () => void) => setTimeout(fn, 200));
idle(() => void loadAuthChecks());
