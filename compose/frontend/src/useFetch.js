import { useEffect, useState } from 'react';
import { api } from './api.js';

// Loads /api{path} whenever path changes; returns { data, error }.
export function useFetch(path) {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    if (!path) return undefined;
    let cancelled = false;
    setState({ data: null, error: null });
    api(path).then(
      (data) => !cancelled && setState({ data, error: null }),
      (error) => !cancelled && setState({ data: null, error }),
    );
    return () => {
      cancelled = true;
    };
  }, [path]);
  return state;
}
