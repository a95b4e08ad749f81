import { tool } from '@langchain/core/tools';
import { z } from 'zod';

/**
 * Evaluates an arithmetic expression with a recursive-descent parser: numbers, + - * / %,
 * ^ (right-associative power), unary signs and parentheses. Nothing else is accepted, and
 * nothing is ever evaluated as code.
 */
export function evaluate(expression: string): number {
  const tokens =
    expression.match(/\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?|\*\*|[-+*/%^()]|\S/gi) ?? [];
  let pos = 0;
  const peek = () => tokens[pos];
  const fail = (why: string): never => {
    throw new Error(`Cannot evaluate "${expression}": ${why}.`);
  };

  const primary = (): number => {
    const token = tokens[pos++];
    if (token === undefined) return fail('the expression ends too early');
    if (token === '(') {
      const value = sum();
      if (tokens[pos++] !== ')') fail('a closing parenthesis is missing');
      return value;
    }
    if (token === '-') return -power();
    if (token === '+') return power();
    const value = Number(token);
    if (!/^[\d.]/.test(token) || Number.isNaN(value)) fail(`unexpected "${token}"`);
    return value;
  };
  const power = (): number => {
    const base = primary();
    if (peek() === '^' || peek() === '**') {
      pos++;
      return base ** power();
    }
    return base;
  };
  const product = (): number => {
    let value = power();
    while (peek() === '*' || peek() === '/' || peek() === '%') {
      const op = tokens[pos++];
      const right = power();
      if (op !== '*' && right === 0) fail('division by zero');
      value = op === '*' ? value * right : op === '/' ? value / right : value % right;
    }
    return value;
  };
  const sum = (): number => {
    let value = product();
    while (peek() === '+' || peek() === '-') {
      const op = tokens[pos++];
      const right = product();
      value = op === '+' ? value + right : value - right;
    }
    return value;
  };

  if (tokens.length === 0) fail('it is empty');
  const value = sum();
  if (pos < tokens.length) fail(`unexpected "${tokens[pos]}"`);
  if (!Number.isFinite(value)) fail('the result is not a finite number');
  return value;
}

/** Formats without floating-point noise: 0.1+0.2 gives 0.3. */
export function formatNumber(value: number): string {
  return String(Number.parseFloat(value.toPrecision(12)));
}

export const calculator = tool(async ({ expression }) => formatNumber(evaluate(expression)), {
  name: 'calculator',
  description:
    'Evaluates an arithmetic expression: numbers, + - * / % ^ and parentheses. Example: (12+30)*2',
  schema: z.object({ expression: z.string().min(1).max(1000).describe('The expression') }),
});
